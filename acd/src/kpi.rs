//! Queue KPIs from the queue log ([`Record`]s), with their standard definitions.
//!
//! [`compute`] is a pure function over a list of records (sans-IO: the engine reads them from
//! its `queue_log` table, a test writes them by hand or has the machine produce them).
//!
//! # Which calls count
//!
//! The period is `[since, until)` ([`KpiParams`]); a call belongs to the period in which it
//! *entered* the queue (its first [`RecordKind::Enqueued`] of the queue asked for), the usual
//! interval rule of ACD reports. Every call is counted once, by its call id; records of calls
//! that did not enter within the period are ignored. A call's outcome is, in this order:
//!
//! 1. **answered**: an agent answered it at least once, even if it was re-queued after the
//!    agent's phone failed and the caller later hung up or overflowed;
//! 2. **abandoned**: the caller hung up before any answer;
//! 3. **overflowed**: sent to the robot (`max_wait_s`, or no agent logged in);
//! 4. **still waiting** at the end of the log.
//!
//! So an abandoned call is never counted twice (a second `Abandoned` record of the same call
//! changes nothing) nor as answered.
//!
//! # Definitions
//!
//! `T` = [`KpiParams::service_level_s`] (commonly 20 s), `S` = [`KpiParams::short_abandon_s`]
//! (commonly 5 s); waits are measured from entering the queue.
//!
//! - **offered** = calls that entered the queue in the period.
//! - **short abandon**: abandoned with a wait *strictly less* than `S` (the caller hung up
//!   before anyone could reasonably answer; misdials). Excluded from the service level and
//!   the abandonment rate, numerator and denominator.
//! - **counted** = offered − short abandons − still waiting.
//! - **service level** `SL(T)` = (answered with a wait ≤ `T`) ÷ counted. Abandons after `S`
//!   and overflows stay in the denominator: a caller who gave up or went to the robot was not
//!   served within `T` (the convention of COPC and of most ACD vendors' "SL with abandons").
//!   Reported with its threshold, e.g. "80 % within 20 s".
//! - **ASA** (average speed of answer) = Σ wait of answered calls ÷ answered calls: the true
//!   mean of every answered call's wait from entering the queue to its first answer, seconds
//!   (not a median, not a mean of per-interval means; abandoned calls not included).
//! - **abandonment rate** = (abandoned − short abandons) ÷ counted.
//! - **AHT** (average handle time) = Σ (talk + wrap-up) ÷ handled calls, seconds, where
//!   handled calls are answered calls whose conversation ended within the log (every talk
//!   segment of a re-queued call is summed).
//! - **occupancy** = Σ (on call + wrap-up) ÷ Σ (available + ringing + on call + wrap-up) over
//!   every agent's state time within `[since, until)` (an agent's state at `since` comes
//!   from the last change before it): the share of staffed, not paused time spent handling
//!   calls (ringing counts as idle).
//! - **ПП 416**: Постановление Правительства РФ от 15.05.2013 № 416, п. 13: the emergency
//!   dispatch service (АДС) must answer a call within 5 minutes. [`Kpis::within_5_min`] is
//!   `SL(300 s)` over all calls of the log (run it on the АДС queue's records), and
//!   [`Kpis::emergency_within_5_min`] the same over calls flagged emergency.

use crate::types::{AgentId, CallId, Millis, QueueId, Record, RecordKind, StateKind};
use std::collections::BTreeMap;

/// ПП 416's limit on the wait for the emergency dispatcher's answer, seconds.
pub const PP416_ANSWER_S: u32 = 300;

/// What to compute over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KpiParams {
    /// Service level threshold `T`, seconds (commonly 20).
    pub service_level_s: u32,
    /// Short-abandon threshold `S`, seconds (commonly 5): abandons with a shorter wait are not
    /// counted.
    pub short_abandon_s: u32,
    /// Start of the period, ms (e.g. local midnight of today); 0 for the whole log.
    pub since: Millis,
    /// End of the period, ms (exclusive; e.g. now): agents' current states are counted up to
    /// here.
    pub until: Millis,
    /// Only calls of this queue (agents' occupancy is over all their time regardless).
    pub queue: Option<QueueId>,
}

/// The KPIs of a queue log (see the module docs for the definitions). Ratios are 0–1; `None`
/// where the denominator is zero. Serialises to JSON with these field names (the monitor's
/// `today`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Kpis {
    /// Calls that entered the queue.
    pub offered: u32,
    /// Answered by an agent.
    pub answered: u32,
    /// Abandoned, short abandons included.
    pub abandoned: u32,
    /// Abandoned with a wait under the short-abandon threshold.
    pub short_abandoned: u32,
    /// Sent to the overflow target.
    pub overflowed: u32,
    /// Still waiting at the end of the log.
    pub waiting: u32,
    /// Answered within `service_level_s` ÷ counted calls.
    pub service_level: Option<f64>,
    /// Mean wait of answered calls, seconds.
    pub asa_s: Option<f64>,
    /// Abandons (not short) ÷ counted calls.
    pub abandonment_rate: Option<f64>,
    /// Mean talk + wrap-up of handled calls, seconds.
    pub aht_s: Option<f64>,
    /// Handling time ÷ staffed time of the agents.
    pub occupancy: Option<f64>,
    /// Answered within 300 s ÷ counted calls (ПП 416).
    pub within_5_min: Option<f64>,
    /// The same over emergency calls only.
    pub emergency_within_5_min: Option<f64>,
}

#[derive(Default)]
struct CallLine {
    emergency: bool,
    answer_wait: Option<Millis>,
    abandon_wait: Option<Millis>,
    overflowed: bool,
    talk_ms: Millis,
    wrap_ms: Millis,
    talk_ended: bool,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Computes the KPIs of a queue log: `records` in log order (as the machine emitted them),
/// over the period and queue of `params`. Pure: no clock, no IO.
pub fn compute(records: &[Record], params: &KpiParams) -> Kpis {
    // A call's line starts at its first entry into the queue within the period: its records
    // before that (another queue's segment, before a transfer) are not counted here.
    let mut calls: BTreeMap<&CallId, CallLine> = BTreeMap::new();
    for r in records {
        match &r.kind {
            RecordKind::Enqueued {
                call,
                queue,
                emergency,
            } => {
                let ours = params.queue.as_ref().is_none_or(|q| q == queue);
                if let Some(c) = calls.get_mut(call) {
                    c.emergency |= *emergency && ours;
                } else if ours && params.since <= r.at && r.at < params.until {
                    calls.entry(call).or_default().emergency = *emergency;
                }
            }
            RecordKind::Answered { call, wait_ms, .. } => {
                if let Some(c) = calls.get_mut(call) {
                    c.answer_wait.get_or_insert(*wait_ms);
                }
            }
            RecordKind::Abandoned { call, wait_ms } => {
                if let Some(c) = calls.get_mut(call) {
                    c.abandon_wait.get_or_insert(*wait_ms);
                }
            }
            RecordKind::Overflowed { call, .. } => {
                if let Some(c) = calls.get_mut(call) {
                    c.overflowed = true;
                }
            }
            RecordKind::TalkEnded { call, talk_ms, .. } => {
                if let Some(c) = calls.get_mut(call) {
                    c.talk_ms += talk_ms;
                    c.talk_ended = true;
                }
            }
            RecordKind::WrapUpEnded { call, wrap_ms, .. } => {
                if let Some(c) = calls.get_mut(call) {
                    c.wrap_ms += wrap_ms;
                }
            }
            RecordKind::Requeued { .. }
            | RecordKind::AgentState { .. }
            | RecordKind::Transferred { .. } => {}
        }
    }
    let short_ms = Millis::from(params.short_abandon_s) * 1000;
    let sl = |threshold_s: u32, emergency_only: bool| {
        let t_ms = Millis::from(threshold_s) * 1000;
        let mut num = 0;
        let mut den = 0;
        for c in calls.values().filter(|c| !emergency_only || c.emergency) {
            match (c.answer_wait, c.abandon_wait, c.overflowed) {
                (Some(w), _, _) => {
                    den += 1;
                    if w <= t_ms {
                        num += 1;
                    }
                }
                (None, Some(w), _) if w < short_ms => {}
                (None, Some(_), _) | (None, None, true) => den += 1,
                (None, None, false) => {}
            }
        }
        ratio(num, den)
    };
    let offered = calls.len() as u64;
    let answered: Vec<&CallLine> = calls.values().filter(|c| c.answer_wait.is_some()).collect();
    let abandoned: Vec<Millis> = calls
        .values()
        .filter(|c| c.answer_wait.is_none())
        .filter_map(|c| c.abandon_wait)
        .collect();
    let short = abandoned.iter().filter(|w| **w < short_ms).count() as u64;
    let overflowed = calls
        .values()
        .filter(|c| c.answer_wait.is_none() && c.abandon_wait.is_none() && c.overflowed)
        .count() as u64;
    let waiting = offered - answered.len() as u64 - abandoned.len() as u64 - overflowed;
    let counted = offered - short - waiting;
    let handled: Vec<&&CallLine> = answered.iter().filter(|c| c.talk_ended).collect();
    let handle_ms: Millis = handled.iter().map(|c| c.talk_ms + c.wrap_ms).sum();
    let wait_ms: Millis = answered.iter().filter_map(|c| c.answer_wait).sum();
    Kpis {
        offered: offered as u32,
        answered: answered.len() as u32,
        abandoned: abandoned.len() as u32,
        short_abandoned: short as u32,
        overflowed: overflowed as u32,
        waiting: waiting as u32,
        service_level: sl(params.service_level_s, false),
        asa_s: ratio(wait_ms, answered.len() as u64 * 1000),
        abandonment_rate: ratio(abandoned.len() as u64 - short, counted),
        aht_s: ratio(handle_ms, handled.len() as u64 * 1000),
        occupancy: occupancy(records, params.since, params.until),
        within_5_min: sl(PP416_ANSWER_S, false),
        emergency_within_5_min: sl(PP416_ANSWER_S, true),
    }
}

/// Occupancy from the agents' state changes within `[since, until)` (module docs).
fn occupancy(records: &[Record], since: Millis, until: Millis) -> Option<f64> {
    let mut current: BTreeMap<&AgentId, (StateKind, Millis)> = BTreeMap::new();
    let mut busy: Millis = 0;
    let mut staffed: Millis = 0;
    let mut add = |state: StateKind, ms: Millis| match state {
        StateKind::OnCall | StateKind::WrapUp => {
            busy += ms;
            staffed += ms;
        }
        StateKind::Available | StateKind::Ringing => staffed += ms,
        StateKind::LoggedOut | StateKind::Paused | StateKind::Disconnected => {}
    };
    for r in records {
        if let RecordKind::AgentState { agent, state } = &r.kind {
            let at = r.at.clamp(since, until.max(since));
            if let Some((prev, since)) = current.insert(agent, (*state, at)) {
                add(prev, at.saturating_sub(since));
            }
        }
    }
    for (state, from) in current.into_values() {
        add(state, until.saturating_sub(from));
    }
    ratio(busy, staffed)
}
