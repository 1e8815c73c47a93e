//! `[rating]`: the rating robot (engine::rating) and what a low rating does
//! (zvonar_dispatch::rating).

use serde::Deserialize;
use std::collections::HashMap;

/// `[rating]` of `zvonar.toml`; every field has a default (the robot is off by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RatingSection {
    /// Run the daily rating calls. Default `false`. Ratings through the API work either way.
    pub enabled: bool,
    /// Local time of the daily run, `HH:MM` in the company's `time_zone`. Default `11:00`.
    pub time: String,
    /// Said first on every rating call (who is calling).
    pub intro: String,
    /// Ratings at or below this (1–5) file a quality-control ticket; 0 never. Default 3.
    pub threshold: u8,
    /// A low rating also puts the ticket back in work. Default `true`.
    pub reopen: bool,
    /// Topic code of the quality-control ticket. Default `quality`.
    pub qc_topic: String,
    /// Department the quality-control ticket is assigned to (one of `[tickets]
    /// departments`); empty: none. Default empty.
    pub qc_department: String,
    /// Login of the supervisor the quality-control ticket is assigned to; empty: none.
    pub qc_supervisor: String,
    /// Simultaneous rating calls (1–500). Default 2.
    pub channels: u32,
    /// New rating calls per minute (1–6000). Default 10.
    pub per_minute: u32,
    /// Ring before giving up, s (5–120). Default 30.
    pub ring_timeout_s: u32,
    /// Further attempts after busy (0–10). Default 1.
    pub busy_retries: u32,
    /// Minutes between them. Default 30.
    pub busy_retry_gap_min: u32,
    /// Further attempts after no answer (0–10). Default 1.
    pub no_answer_retries: u32,
    /// Minutes between them. Default 120.
    pub no_answer_retry_gap_min: u32,
    /// A day's calls are placed within this many hours of the run (1–24). Default 9.
    pub window_hours: u32,
    /// Silence after a question before it is asked again, s (2–30). Default 7.
    pub no_input_s: u32,
    /// Longest comment, s (5–120). Default 30.
    pub comment_max_s: u32,
    /// How the robot names a request on each topic after «по заявке от <date>»:
    /// `leak = "о протечке"`. Topics not listed: «на тему «<name>»».
    pub subjects: HashMap<String, String>,
}

impl Default for RatingSection {
    fn default() -> Self {
        RatingSection {
            enabled: false,
            time: "11:00".into(),
            intro: "Здравствуйте! Вас беспокоит управляющая компания.".into(),
            threshold: 3,
            reopen: true,
            qc_topic: "quality".into(),
            qc_department: String::new(),
            qc_supervisor: String::new(),
            channels: 2,
            per_minute: 10,
            ring_timeout_s: 30,
            busy_retries: 1,
            busy_retry_gap_min: 30,
            no_answer_retries: 1,
            no_answer_retry_gap_min: 120,
            window_hours: 9,
            no_input_s: 7,
            comment_max_s: 30,
            subjects: HashMap::new(),
        }
    }
}

/// `(key, message)` of a bad `[rating]` value.
pub type RatingConfigError = (&'static str, String);

fn range(key: &'static str, v: u32, lo: u32, hi: u32) -> Result<u32, RatingConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err((key, format!("rating.{key} must be {lo}..{hi}, got {v}")))
    }
}

impl RatingSection {
    /// The robot's settings in the company's `tz`, with topic names from the console's
    /// topic tree (`topic_names`: code → name) and its `departments`.
    ///
    /// Errors: `(key, message)` for a bad value.
    pub fn robot(
        &self,
        tz: chrono_tz::Tz,
        topic_names: HashMap<String, String>,
        departments: &[String],
    ) -> Result<crate::engine::rating::RatingConfig, RatingConfigError> {
        let at = chrono::NaiveTime::parse_from_str(self.time.trim(), "%H:%M").map_err(|_| {
            (
                "time",
                format!("rating.time must be HH:MM, got {:?}", self.time),
            )
        })?;
        if self.intro.trim().is_empty() {
            return Err(("intro", "rating.intro must not be empty".into()));
        }
        if self.threshold > 5 {
            return Err(("threshold", "rating.threshold must be 0..5".into()));
        }
        if self.qc_topic.trim().is_empty() {
            return Err(("qc_topic", "rating.qc_topic must not be empty".into()));
        }
        let dept = self.qc_department.trim();
        if !dept.is_empty() && !departments.iter().any(|d| d == dept) {
            return Err((
                "qc_department",
                format!("rating.qc_department {dept:?} is not one of [tickets] departments"),
            ));
        }
        for (code, s) in &self.subjects {
            if s.trim().is_empty() {
                return Err(("subjects", format!("rating.subjects.{code} is empty")));
            }
        }
        Ok(crate::engine::rating::RatingConfig {
            at,
            time_zone: tz,
            intro: self.intro.trim().to_string(),
            subjects: self.subjects.clone(),
            topic_names,
            channels: range("channels", self.channels, 1, 500)?,
            per_minute: range("per_minute", self.per_minute, 1, 6000)?,
            ring_timeout_s: range("ring_timeout_s", self.ring_timeout_s, 5, 120)?,
            retries: zvonar_outbound::campaign::Retries {
                busy: range("busy_retries", self.busy_retries, 0, 10)?,
                busy_gap_min: range("busy_retry_gap_min", self.busy_retry_gap_min, 0, 1440)?,
                no_answer: range("no_answer_retries", self.no_answer_retries, 0, 10)?,
                no_answer_gap_min: range(
                    "no_answer_retry_gap_min",
                    self.no_answer_retry_gap_min,
                    0,
                    1440,
                )?,
            },
            window_hours: range("window_hours", self.window_hours, 1, 24)?,
            round: crate::engine::rating::RatingRound {
                no_input_ms: range("no_input_s", self.no_input_s, 2, 30)? * 1000,
                comment_max_ms: range("comment_max_s", self.comment_max_s, 5, 120)? * 1000,
            },
        })
    }

    /// The quality-control policy; `supervisor` is the resolved [`Self::qc_supervisor`]
    /// (user id and name).
    pub fn qc_policy(
        &self,
        supervisor: Option<(i64, String)>,
    ) -> zvonar_dispatch::rating::QcPolicy {
        zvonar_dispatch::rating::QcPolicy {
            threshold: self.threshold,
            reopen: self.reopen,
            topic: self.qc_topic.trim().to_string(),
            department: Some(self.qc_department.trim().to_string()).filter(|d| !d.is_empty()),
            executor: supervisor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn example() -> crate::config::Config {
        crate::config::Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml"),
        )
        .expect("example config")
    }

    #[test]
    fn the_example_section_gives_the_robot_and_the_qc_policy_it_describes() {
        let cfg = example();
        let r = &cfg.rating;
        assert!(!r.enabled, "off in the example");
        let names = [("quality".to_string(), "Контроль качества".to_string())].into();
        let robot = r
            .robot(cfg.time_zone, names, &cfg.tickets.departments)
            .expect("valid");
        assert_eq!(robot.at, chrono::NaiveTime::from_hms_opt(11, 0, 0).unwrap());
        assert_eq!(
            robot.intro,
            "Здравствуйте! Вас беспокоит управляющая компания."
        );
        assert_eq!(
            (robot.channels, robot.per_minute, robot.ring_timeout_s),
            (2, 10, 30)
        );
        assert_eq!(
            robot.retries,
            zvonar_outbound::campaign::Retries {
                busy: 1,
                busy_gap_min: 30,
                no_answer: 1,
                no_answer_gap_min: 120
            }
        );
        assert_eq!(robot.window_hours, 9);
        assert_eq!(robot.round.no_input_ms, 7000);
        assert_eq!(robot.round.comment_max_ms, 30_000);
        assert_eq!(robot.subject("leak"), "о протечке");
        assert_eq!(robot.subject("quality"), "на тему «Контроль качества»");
        let qc = r.qc_policy(Some((3, "Петрова".into())));
        assert_eq!(qc.threshold, 3);
        assert!(qc.reopen);
        assert_eq!(qc.topic, "quality");
        assert_eq!(qc.department, None, "empty qc_department: not assigned");
        assert_eq!(qc.executor, Some((3, "Петрова".into())));
        // The quality topic is in the console's topic tree.
        assert!(cfg.tickets.topics.iter().any(|t| t.code == "quality"));
    }

    #[test]
    fn bad_values_are_named() {
        let deps = vec!["Контроль качества".to_string()];
        let ok = RatingSection {
            qc_department: "Контроль качества".into(),
            ..RatingSection::default()
        };
        assert_eq!(
            ok.qc_policy(None).department.as_deref(),
            Some("Контроль качества")
        );
        assert!(ok
            .robot(chrono_tz::Europe::Moscow, HashMap::new(), &deps)
            .is_ok());
        type Change = Box<dyn Fn(&mut RatingSection)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|s| s.time = "25:00".into()), "time"),
            (Box::new(|s| s.time = "11".into()), "time"),
            (Box::new(|s| s.intro = " ".into()), "intro"),
            (Box::new(|s| s.threshold = 6), "threshold"),
            (Box::new(|s| s.qc_topic = String::new()), "qc_topic"),
            (
                Box::new(|s| s.qc_department = "Бухгалтерия".into()),
                "qc_department",
            ),
            (Box::new(|s| s.channels = 0), "channels"),
            (Box::new(|s| s.per_minute = 0), "per_minute"),
            (Box::new(|s| s.ring_timeout_s = 200), "ring_timeout_s"),
            (Box::new(|s| s.busy_retries = 11), "busy_retries"),
            (
                Box::new(|s| s.busy_retry_gap_min = 2000),
                "busy_retry_gap_min",
            ),
            (Box::new(|s| s.no_answer_retries = 11), "no_answer_retries"),
            (
                Box::new(|s| s.no_answer_retry_gap_min = 2000),
                "no_answer_retry_gap_min",
            ),
            (Box::new(|s| s.window_hours = 0), "window_hours"),
            (Box::new(|s| s.no_input_s = 1), "no_input_s"),
            (Box::new(|s| s.comment_max_s = 500), "comment_max_s"),
            (
                Box::new(|s| {
                    s.subjects.insert("leak".into(), " ".into());
                }),
                "subjects",
            ),
        ];
        for (change, key) in cases {
            let mut s = ok.clone();
            change(&mut s);
            let (k, m) = s
                .robot(chrono_tz::Europe::Moscow, HashMap::new(), &deps)
                .unwrap_err();
            assert_eq!(k, key, "{m}");
            assert!(m.contains(&format!("rating.{key}")), "{m}");
        }
        // `reopen` and `threshold` go into the policy as they are.
        let s = RatingSection {
            reopen: false,
            threshold: 0,
            ..ok
        };
        let p = s.qc_policy(None);
        assert!(!p.reopen);
        assert_eq!(p.threshold, 0);
    }
}
