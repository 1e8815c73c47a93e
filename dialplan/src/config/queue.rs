//! `[[queue]]` tables: the ACD queues ([`zvonar_acd::QueueConfig`]) and `kind = "queue"` flows.
//!
//! ```toml
//! [[queue]]
//! name = "operators"
//! strategy = "longest_idle"   # ring_all | longest_idle | round_robin | skills
//! max_wait_s = 180            # then overflow (10–3600, default 300)
//! wrap_up_s = 30              # after-call work, s (0–900, default 30)
//! ring_timeout_s = 20         # an offer rings this long (5–120, default 20)
//! announce_every_s = 60       # position and expected wait (0 = never, else 15–600; default 60)
//! skills = ["ads"]            # agents with any of these skills serve it (default: every agent)
//! overflow = "dispatcher"     # flow that takes the call after max_wait_s: the robot (required)
//! overflow_when_unstaffed = true  # nobody logged in: overflow at once (default true)
//!
//! [flow.operators]
//! kind = "queue"
//! queue = "operators"
//! ```

use super::raw::Ctx;
use super::{DialplanError, Flow, FlowKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;
use zvonar_acd::{QueueConfig, QueueId, Strategy};

/// Settings of a `kind = "queue"` flow: the caller waits in a queue for an operator.
///
/// The engine runs it (`src/engine/queue`): the caller waits with comfort audio and
/// announcements until an agent answers or the queue overflows to its `overflow` flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueFlowSettings {
    /// The `[[queue]]` the call enters.
    pub queue: QueueId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    name: Spanned<String>,
    strategy: Spanned<String>,
    overflow: Spanned<String>,
    max_wait_s: Option<Spanned<u32>>,
    wrap_up_s: Option<Spanned<u32>>,
    ring_timeout_s: Option<Spanned<u32>>,
    announce_every_s: Option<Spanned<u32>>,
    skills: Option<Spanned<Vec<String>>>,
    overflow_when_unstaffed: Option<bool>,
}

/// Queue names and skills: lowercase latin letters, digits, `_` and `-` (skills match topic
/// codes such as `leak`).
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn range(
    cx: &Ctx<'_>,
    v: &Option<Spanned<u32>>,
    setting: &'static str,
    ok: impl Fn(u32) -> bool,
    reason: &'static str,
    default: u32,
) -> Result<u32, DialplanError> {
    match v {
        None => Ok(default),
        Some(s) if ok(*s.get_ref()) => Ok(*s.get_ref()),
        Some(s) => Err(DialplanError::BadValue {
            file: cx.file(),
            line: cx.line_of(s),
            setting,
            value: s.get_ref().to_string(),
            reason,
        }),
    }
}

/// Validates the `[[queue]]` tables against the flows, and the queue flows against them.
pub(super) fn build_queues(
    cx: &Ctx<'_>,
    raw: Vec<Spanned<RawQueue>>,
    flows: &BTreeMap<String, Flow>,
    flow_lines: &BTreeMap<String, usize>,
) -> Result<Vec<QueueConfig>, DialplanError> {
    let mut out: Vec<QueueConfig> = Vec::new();
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    for q in raw {
        let line = cx.line_of(&q);
        let q = q.into_inner();
        let name = q.name.get_ref().clone();
        if !is_code(&name) {
            return Err(DialplanError::BadValue {
                file: cx.file(),
                line: cx.line_of(&q.name),
                setting: "name",
                value: format!("{name:?}"),
                reason: "a queue name is lowercase latin letters, digits, _ and -",
            });
        }
        if let Some(first) = first_line.get(&name) {
            return Err(DialplanError::DuplicateQueue {
                file: cx.file(),
                line,
                name,
                first_line: *first,
            });
        }
        first_line.insert(name.clone(), line);
        let strategy =
            Strategy::parse(q.strategy.get_ref()).ok_or_else(|| DialplanError::BadValue {
                file: cx.file(),
                line: cx.line_of(&q.strategy),
                setting: "strategy",
                value: format!("{:?}", q.strategy.get_ref()),
                reason: "expected ring_all, longest_idle, round_robin or skills",
            })?;
        let defaults = QueueConfig::new(&name);
        let max_wait_s = range(
            cx,
            &q.max_wait_s,
            "max_wait_s",
            |v| (10..=3600).contains(&v),
            "must be 10–3600 s",
            defaults.max_wait_s,
        )?;
        let wrap_up_s = range(
            cx,
            &q.wrap_up_s,
            "wrap_up_s",
            |v| v <= 900,
            "must be 0–900 s",
            defaults.wrap_up_s,
        )?;
        let ring_timeout_s = range(
            cx,
            &q.ring_timeout_s,
            "ring_timeout_s",
            |v| (5..=120).contains(&v),
            "must be 5–120 s",
            defaults.ring_timeout_s,
        )?;
        let announce_every_s = range(
            cx,
            &q.announce_every_s,
            "announce_every_s",
            |v| v == 0 || (15..=600).contains(&v),
            "must be 0 (never) or 15–600 s",
            defaults.announce_every_s,
        )?;
        let skills = match q.skills {
            None => Vec::new(),
            Some(s) => {
                if let Some(bad) = s.get_ref().iter().find(|k| !is_code(k)) {
                    return Err(DialplanError::BadValue {
                        file: cx.file(),
                        line: cx.line_of(&s),
                        setting: "skills",
                        value: format!("{bad:?}"),
                        reason:
                            "a skill is lowercase latin letters, digits, _ and - (like topic codes)",
                    });
                }
                s.into_inner()
            }
        };
        let overflow = q.overflow.get_ref().clone();
        let bad_overflow = |reason: &'static str| DialplanError::BadOverflow {
            file: cx.file(),
            line: cx.line_of(&q.overflow),
            queue: name.clone(),
            flow: overflow.clone(),
            reason,
        };
        match flows.get(&overflow).map(|f| &f.kind) {
            None => return Err(bad_overflow("no such flow under [flow]")),
            Some(FlowKind::Queue(_)) => {
                return Err(bad_overflow(
                    "overflow goes to the robot or a recording, not to another queue",
                ))
            }
            Some(_) => {}
        }
        out.push(QueueConfig {
            id: QueueId(name),
            strategy,
            max_wait_s,
            wrap_up_s,
            ring_timeout_s,
            announce_every_s,
            skills,
            overflow,
            overflow_when_unstaffed: q.overflow_when_unstaffed.unwrap_or(true),
        });
    }
    for flow in flows.values() {
        if let FlowKind::Queue(s) = &flow.kind {
            if !out.iter().any(|q| q.id == s.queue) {
                return Err(DialplanError::UnknownQueue {
                    file: cx.file(),
                    line: flow_lines.get(&flow.name).copied().unwrap_or(1),
                    flow: flow.name.clone(),
                    queue: s.queue.0.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::{Dialplan, DialplanError, FlowKind};
    use zvonar_acd::{QueueId, Strategy};

    const BASE: &str = r#"
[[route]]
number = "*"
flow = "d"

[flow.d]
kind = "dispatcher_robot"
company = "УК «Дом»"
"#;

    fn parse(extra: &str) -> Result<Dialplan, DialplanError> {
        Dialplan::parse(&format!("{BASE}{extra}"), "test.toml")
    }

    #[test]
    fn the_shipped_example_declares_a_queue_that_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
        let dp = Dialplan::load(path).unwrap();
        let q = &dp.queues()[0];
        assert_eq!(q.id, QueueId::from("operators"));
        assert_eq!(q.strategy, Strategy::LongestIdle);
        assert_eq!(
            (
                q.max_wait_s,
                q.wrap_up_s,
                q.ring_timeout_s,
                q.announce_every_s
            ),
            (180, 30, 20, 45)
        );
        assert_eq!(q.skills, Vec::<String>::new());
        assert_eq!(q.overflow, "dispatcher");
        assert!(q.overflow_when_unstaffed);
        let FlowKind::Queue(f) = &dp.flow("operators").unwrap().kind else {
            panic!("not a queue flow")
        };
        assert_eq!(f.queue, q.id);
        // The robot hands callers to it; no route sends calls straight there.
        assert!(dp.routes().iter().all(|r| r.flow != "operators"));
        let FlowKind::DispatcherRobot(robot) = &dp.flow("dispatcher").unwrap().kind else {
            panic!("robot")
        };
        assert_eq!(robot.operator_flow.as_deref(), Some("operators"));
        assert!(!robot.emergency_to_operator);
        assert_eq!(
            robot.prompts.to_operator,
            crate::config::Prompt::Text(
                "Соединяю с оператором. Пожалуйста, оставайтесь на линии.".into()
            )
        );
    }

    #[test]
    fn a_minimal_queue_gets_the_defaults() {
        let dp = parse(
            "[[queue]]\nname = \"ads\"\nstrategy = \"ring_all\"\noverflow = \"d\"\n\n\
             [flow.q]\nkind = \"queue\"\nqueue = \"ads\"\n",
        )
        .unwrap();
        assert_eq!(
            dp.queues(),
            [zvonar_acd::QueueConfig {
                overflow: "d".into(),
                ..zvonar_acd::QueueConfig::new("ads")
            }]
        );
        assert!(dp.spoken_prompts().len() > 5);
    }

    #[test]
    fn every_setting_is_read() {
        let dp = parse(
            r#"
[[queue]]
name = "uk-2"
strategy = "skills"
max_wait_s = 600
wrap_up_s = 0
ring_timeout_s = 30
announce_every_s = 0
skills = ["leak", "gas"]
overflow = "d"
overflow_when_unstaffed = false
"#,
        )
        .unwrap();
        let q = &dp.queues()[0];
        assert_eq!(q.strategy, Strategy::Skills);
        assert_eq!(
            (
                q.max_wait_s,
                q.wrap_up_s,
                q.ring_timeout_s,
                q.announce_every_s
            ),
            (600, 0, 30, 0)
        );
        assert_eq!(q.skills, ["leak", "gas"]);
        assert!(!q.overflow_when_unstaffed);
    }

    #[test]
    fn the_robot_hands_over_to_a_queue_flow_only() {
        let q = "[[queue]]\nname = \"ads\"\nstrategy = \"ring_all\"\noverflow = \"d\"\n\
                 [flow.ops]\nkind = \"queue\"\nqueue = \"ads\"\n";
        let robot = |extra: &str| {
            Dialplan::parse(
                &format!(
                    "[[route]]\nnumber = \"*\"\nflow = \"d\"\n[flow.d]\nkind = \"dispatcher_robot\"\n\
                     company = \"УК\"\n{extra}\n{q}"
                ),
                "t.toml",
            )
        };
        let dp = robot("operator_flow = \"ops\"\nemergency_to_operator = true").unwrap();
        let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
            panic!("robot")
        };
        assert_eq!(s.operator_flow.as_deref(), Some("ops"));
        assert!(s.emergency_to_operator);
        let dp = robot("").unwrap();
        let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
            panic!("robot")
        };
        assert_eq!(
            (s.operator_flow.as_deref(), s.emergency_to_operator),
            (None, false)
        );
        // A flow that is not a queue, or none at all: refused with the line.
        for bad in ["operator_flow = \"d\"", "operator_flow = \"nope\""] {
            let e = robot(bad).unwrap_err();
            assert!(e.to_string().contains("kind = \"queue\""), "{e}");
            assert_eq!(e.line(), Some(7), "{e}");
        }
        // Only robots hand over.
        let e = parse(
            "[flow.p]\nkind = \"playback\"\nprompt = { text = \"x\" }\noperator_flow = \"d\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DialplanError::SettingNotForKind {
                    setting: "operator_flow",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_queues_are_refused_with_their_line() {
        let q = |body: &str| format!("[[queue]]\nname = \"q\"\n{body}\n");
        let cases: [(String, &str, usize); 10] = [
            (q("strategy = \"random\"\noverflow = \"d\""), "strategy", 11),
            (q("strategy = \"ring_all\"\noverflow = \"nope\""), "no such flow", 12),
            (q("strategy = \"ring_all\"\noverflow = \"d\"\nmax_wait_s = 5"), "10–3600", 13),
            (q("strategy = \"ring_all\"\noverflow = \"d\"\nwrap_up_s = 901"), "0–900", 13),
            (q("strategy = \"ring_all\"\noverflow = \"d\"\nring_timeout_s = 1"), "5–120", 13),
            (q("strategy = \"ring_all\"\noverflow = \"d\"\nannounce_every_s = 5"), "15–600", 13),
            (q("strategy = \"ring_all\"\noverflow = \"d\"\nskills = [\"Утечка\"]"), "skill", 13),
            (q("strategy = \"ring_all\""), "overflow", 9),
            (
                q("strategy = \"ring_all\"\noverflow = \"d\"\n[[queue]]\nname = \"q\"\nstrategy = \"ring_all\"\noverflow = \"d\""),
                "used twice",
                13,
            ),
            (
                "[flow.w]\nkind = \"queue\"\nqueue = \"missing\"\n".to_string(),
                "not declared",
                9,
            ),
        ];
        for (extra, needle, line) in cases {
            let e = parse(&extra).expect_err(&extra);
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert_eq!(e.line(), Some(line), "{e}");
        }
        // Overflow into another queue would loop.
        let e = parse(
            "[[queue]]\nname = \"a\"\nstrategy = \"ring_all\"\noverflow = \"qa\"\n\
             [flow.qa]\nkind = \"queue\"\nqueue = \"a\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not to another queue"), "{e}");
        // A queue flow takes no robot settings, and a robot no queue.
        let e = parse("[flow.w]\nkind = \"queue\"\nqueue = \"a\"\ncompany = \"x\"\n").unwrap_err();
        assert!(
            matches!(
                e,
                DialplanError::SettingNotForKind {
                    setting: "company",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse("[flow.w]\nkind = \"queue\"\n").unwrap_err();
        assert!(
            matches!(
                e,
                DialplanError::MissingSetting {
                    setting: "queue",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse("[flow.w]\nkind = \"playback\"\nprompt = { text = \"x\" }\nqueue = \"a\"\n")
            .unwrap_err();
        assert!(
            matches!(
                e,
                DialplanError::SettingNotForKind {
                    setting: "queue",
                    ..
                }
            ),
            "{e}"
        );
    }
}
