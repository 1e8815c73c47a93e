//! `[missed]`: missed calls and callbacks (zvonar_dispatch::missed).

use serde::Deserialize;

/// `[missed]` of `zvonar.toml`; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MissedSection {
    /// A missed call should be called back within this many minutes of working time; later
    /// it is overdue (listed first and marked). Default 15.
    pub callback_within_min: u32,
    /// Working hours, local time `HH:MM-HH:MM` (end may be `24:00`); the callback clock runs
    /// only inside them. Default `08:00-20:00`.
    pub working_hours: String,
    /// Working days: `mon-fri`, `mon-sun`, `mon,wed-fri`. Default `mon-fri`.
    pub working_days: String,
    /// Failed callback attempts (no answer, busy) after which the entry closes. Default 3.
    pub max_attempts: u32,
    /// Dialplan flows that only tell callers the company is closed: their calls are missed
    /// calls with reason `after_hours`. Default none (the robot answers at night).
    pub after_hours_flows: Vec<String>,
}

impl Default for MissedSection {
    fn default() -> Self {
        MissedSection {
            callback_within_min: 15,
            working_hours: "08:00-20:00".into(),
            working_days: "mon-fri".into(),
            max_attempts: 3,
            after_hours_flows: Vec::new(),
        }
    }
}

impl MissedSection {
    /// The settings the dispatch store uses, in the company's time zone `tz`.
    ///
    /// Errors: `(key, message)` for a bad value.
    pub fn settings(
        &self,
        tz: chrono_tz::Tz,
    ) -> Result<zvonar_dispatch::MissedSettings, (&'static str, String)> {
        if self.callback_within_min == 0 || self.callback_within_min > 7 * 24 * 60 {
            return Err((
                "callback_within_min",
                "missed.callback_within_min must be 1..10080 (a week)".into(),
            ));
        }
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err(("max_attempts", "missed.max_attempts must be 1..20".into()));
        }
        let hours =
            zvonar_dispatch::WorkingHours::parse(&self.working_hours, &self.working_days, tz)
                .map_err(|e| {
                    let key = if e.starts_with("working_days") {
                        "working_days"
                    } else {
                        "working_hours"
                    };
                    (key, format!("missed.{e}"))
                })?;
        Ok(zvonar_dispatch::MissedSettings {
            max_attempts: self.max_attempts,
            callback_within: chrono::Duration::minutes(self.callback_within_min.into()),
            hours,
            after_hours_flows: self.after_hours_flows.clone(),
        })
    }
}
