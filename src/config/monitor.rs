//! `[monitor]`: the supervisor's live monitor (`/api/v1/monitor`).

use serde::Deserialize;

/// `[monitor]` of `zvonar.toml`; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSection {
    /// Service level threshold `T`, s: the share of calls answered within it. Default 20
    /// (the common «80/20»). 1..=3600.
    pub service_level_s: u32,
    /// Callers who hang up sooner than this (s) are short abandons, left out of the service
    /// level and the abandonment rate. Default 5; 0 counts every abandon. 0..=300.
    pub short_abandon_s: u32,
}

impl Default for MonitorSection {
    fn default() -> Self {
        MonitorSection {
            service_level_s: 20,
            short_abandon_s: 5,
        }
    }
}

impl MonitorSection {
    /// The engine's monitor settings in the company's time zone `tz`.
    ///
    /// Errors: `(key, message)` for a value out of range.
    pub fn settings(
        &self,
        tz: chrono_tz::Tz,
    ) -> Result<crate::engine::queue::monitor::MonitorSettings, (&'static str, String)> {
        if !(1..=3600).contains(&self.service_level_s) {
            return Err((
                "service_level_s",
                "monitor.service_level_s must be 1..3600 (seconds)".into(),
            ));
        }
        if self.short_abandon_s > 300 {
            return Err((
                "short_abandon_s",
                "monitor.short_abandon_s must be 0..300 (seconds)".into(),
            ));
        }
        Ok(crate::engine::queue::monitor::MonitorSettings {
            service_level_s: self.service_level_s,
            short_abandon_s: self.short_abandon_s,
            time_zone: tz,
        })
    }
}
