//! The live monitor's queue part (`GET /api/v1/monitor`, pushed on `/api/v1/monitor/ws`):
//! every agent with state, pause reason and time in state; every call in each queue with its
//! wait and position; today's figures per queue and for all queues together
//! ([`zvonar_acd::kpi`], "today" = since local midnight in the company's time zone), computed
//! from the persisted queue log ([`super::store::QueueStore`]).
//!
//! [`snapshot`] is pure (state, records, settings, now in; the document out), so it is tested
//! with a fake clock; [`LogCache`] keeps today's records in memory and reads only the rows
//! added since the last snapshot.

use super::store::{QueueStore, StoreError};
use super::{QueueState, QueuedCall};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use serde::Serialize;
use zvonar_acd::kpi::{self, KpiParams, Kpis};
use zvonar_acd::{Millis, QueueId, Record, StateKind};

/// What the figures are computed with (`[monitor]` of zvonar.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Service level threshold `T`, s (default 20).
    pub service_level_s: u32,
    /// Short-abandon threshold `S`, s (default 5): shorter abandons are not counted in the
    /// service level and the abandonment rate.
    pub short_abandon_s: u32,
    /// The company's time zone: "today" starts at its local midnight.
    pub time_zone: chrono_tz::Tz,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            service_level_s: 20,
            short_abandon_s: 5,
            time_zone: crate::engine::DEFAULT_TIME_ZONE,
        }
    }
}

/// An agent on the monitor.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MonitorAgent {
    /// Login.
    pub login: String,
    /// `logged_out`, `available`, `ringing`, `on_call`, `wrap_up`, `paused`, `disconnected`.
    pub state: StateKind,
    /// While paused (also while disconnected from a pause).
    pub pause_reason: Option<String>,
    /// The call offered or talked to (a queued caller's, or one the agent placed: own calls
    /// show `on_call` too).
    pub call: Option<String>,
    /// Since when in this state (UTC); `None` when unknown (a state stored by an older
    /// version).
    pub since: Option<DateTime<Utc>>,
    /// Time in this state, s.
    pub in_state_s: Option<u64>,
}

/// One queue on the monitor.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MonitorQueue {
    /// Name (`[[queue]] name`).
    pub name: String,
    /// Ring strategy.
    pub strategy: &'static str,
    /// Longest wait before overflow, s.
    pub max_wait_s: u32,
    /// Calls waiting (ringing included), not connected ones.
    pub waiting: usize,
    /// The longest wait of a waiting call now, s.
    pub longest_wait_s: Option<u64>,
    /// The queue's calls in queue order: waiting ones with `position`, connected ones with
    /// `agent`.
    pub calls: Vec<QueuedCall>,
    /// Today's figures of this queue.
    pub today: Kpis,
}

/// The queue part of the monitor.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MonitorQueues {
    /// When this was taken (UTC).
    pub at: DateTime<Utc>,
    /// Today, local date `YYYY-MM-DD`.
    pub day: String,
    /// The time zone "today" is in.
    pub time_zone: &'static str,
    /// Service level threshold `T`, s.
    pub service_level_s: u32,
    /// Short-abandon threshold, s.
    pub short_abandon_s: u32,
    /// Queues in dialplan order.
    pub queues: Vec<MonitorQueue>,
    /// Today's figures over every queue (a call counted once even if it was in two).
    pub total: Kpis,
    /// Every agent seen, by login.
    pub agents: Vec<MonitorAgent>,
}

/// Local midnight of `now`'s day in `tz`, ms since the Unix epoch. On a day that starts with
/// a DST gap the first valid local time.
pub fn day_start_ms(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Millis {
    let date = now.with_timezone(&tz).date_naive();
    let start = (0..=180)
        .find_map(|m| {
            tz.from_local_datetime(&date.and_time(NaiveTime::MIN + chrono::Duration::minutes(m)))
                .earliest()
        })
        .map_or(now, |t| t.with_timezone(&Utc));
    start.timestamp_millis().max(0) as Millis
}

fn utc(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
}

/// The monitor's queue part at `now_ms` from the runtime's `state` and `records`, the queue
/// log from `since` (local midnight, see [`day_start_ms`]) with each agent's last state
/// before it.
pub fn snapshot(
    state: QueueState,
    records: &[Record],
    settings: &MonitorSettings,
    since: Millis,
    now_ms: Millis,
) -> MonitorQueues {
    let params = |queue: Option<QueueId>| KpiParams {
        service_level_s: settings.service_level_s,
        short_abandon_s: settings.short_abandon_s,
        since,
        until: now_ms + 1,
        queue,
    };
    let queues = state
        .queues
        .iter()
        .map(|q| {
            let calls: Vec<QueuedCall> = state
                .calls
                .iter()
                .filter(|c| c.queue == q.name)
                .cloned()
                .collect();
            MonitorQueue {
                longest_wait_s: calls
                    .iter()
                    .filter(|c| c.position.is_some())
                    .map(|c| c.waiting_s)
                    .max(),
                name: q.name.clone(),
                strategy: q.strategy,
                max_wait_s: q.max_wait_s,
                waiting: q.waiting,
                calls,
                today: kpi::compute(records, &params(Some(QueueId(q.name.clone())))),
            }
        })
        .collect();
    MonitorQueues {
        at: utc(now_ms),
        day: utc(now_ms)
            .with_timezone(&settings.time_zone)
            .format("%Y-%m-%d")
            .to_string(),
        time_zone: settings.time_zone.name(),
        service_level_s: settings.service_level_s,
        short_abandon_s: settings.short_abandon_s,
        queues,
        total: kpi::compute(records, &params(None)),
        agents: state
            .agents
            .into_iter()
            .map(|a| {
                let since = a.since_ms.filter(|&t| t > 0);
                MonitorAgent {
                    login: a.login,
                    state: a.state,
                    pause_reason: a.pause_reason,
                    call: a.call,
                    since: since.map(utc),
                    in_state_s: since.map(|t| now_ms.saturating_sub(t) / 1000),
                }
            })
            .collect(),
    }
}

/// Today's queue log in memory: reloaded when the day changes, else only the new rows are
/// read.
#[derive(Debug, Default)]
pub struct LogCache {
    since: Option<Millis>,
    last_id: i64,
    records: Vec<Record>,
}

impl LogCache {
    /// The records of the period from `since` (with each agent's state before it), brought up
    /// to date from `store`.
    ///
    /// Errors: the database.
    pub async fn records(
        &mut self,
        store: &QueueStore,
        since: Millis,
    ) -> Result<&[Record], StoreError> {
        if self.since != Some(since) {
            let (last, records) = store.log_since(since).await?;
            *self = LogCache {
                since: Some(since),
                last_id: last,
                records,
            };
        } else {
            let (last, more) = store.log_after(self.last_id).await?;
            self.last_id = last;
            self.records.extend(more);
        }
        Ok(&self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::queue::{AgentSnapshot, QueueSummary};
    use zvonar_acd::{AgentId, CallId, RecordKind};

    fn rec(at: Millis, kind: RecordKind) -> Record {
        Record { at, kind }
    }

    #[test]
    fn today_starts_at_local_midnight() {
        // 30.11.2026 01:30 in Moscow (UTC+3) is 29.11 22:30 UTC; today began 29.11 21:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 22, 30, 0).unwrap();
        let start = day_start_ms(now, chrono_tz::Europe::Moscow);
        assert_eq!(
            utc(start),
            Utc.with_ymd_and_hms(2026, 11, 29, 21, 0, 0).unwrap()
        );
        // The same instant is still 29.11 in UTC.
        let start = day_start_ms(now, chrono_tz::UTC);
        assert_eq!(
            utc(start),
            Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn the_snapshot_has_agents_in_state_calls_per_queue_and_todays_figures() {
        let since = 1_000_000;
        let now = since + 100_000;
        let state = QueueState {
            queues: vec![
                QueueSummary {
                    name: "ads".into(),
                    strategy: "ring_all",
                    waiting: 1,
                    max_wait_s: 300,
                },
                QueueSummary {
                    name: "uk".into(),
                    strategy: "longest_idle",
                    waiting: 0,
                    max_wait_s: 120,
                },
            ],
            calls: vec![
                QueuedCall {
                    call_id: "c2".into(),
                    queue: "ads".into(),
                    emergency: true,
                    waiting_s: 40,
                    position: Some(1),
                    ringing: vec![],
                    agent: None,
                    reason: None,
                },
                QueuedCall {
                    call_id: "c1".into(),
                    queue: "ads".into(),
                    emergency: false,
                    waiting_s: 70,
                    position: None,
                    ringing: vec![],
                    agent: Some("anna".into()),
                    reason: None,
                },
            ],
            agents: vec![
                AgentSnapshot {
                    login: "anna".into(),
                    state: StateKind::OnCall,
                    pause_reason: None,
                    endpoint: None,
                    call: Some("c1".into()),
                    since_ms: Some(now - 65_000),
                },
                AgentSnapshot {
                    login: "boris".into(),
                    state: StateKind::Paused,
                    pause_reason: Some("обед".into()),
                    endpoint: None,
                    call: None,
                    since_ms: Some(0),
                },
            ],
        };
        let call = |c: &str| CallId(c.into());
        let records = vec![
            // Yesterday's call: not today's figures.
            rec(
                since - 5_000,
                RecordKind::Enqueued {
                    call: call("c0"),
                    queue: QueueId("ads".into()),
                    emergency: false,
                },
            ),
            rec(
                since + 30_000,
                RecordKind::Enqueued {
                    call: call("c1"),
                    queue: QueueId("ads".into()),
                    emergency: false,
                },
            ),
            rec(
                since + 35_000,
                RecordKind::Answered {
                    call: call("c1"),
                    agent: AgentId("anna".into()),
                    wait_ms: 5_000,
                },
            ),
            rec(
                since + 60_000,
                RecordKind::Enqueued {
                    call: call("c2"),
                    queue: QueueId("ads".into()),
                    emergency: true,
                },
            ),
        ];
        let settings = MonitorSettings::default();
        let m = snapshot(state, &records, &settings, since, now);
        assert_eq!(m.service_level_s, 20);
        assert_eq!(m.time_zone, "Europe/Moscow");
        assert_eq!(m.queues.len(), 2);
        let ads = &m.queues[0];
        assert_eq!((ads.waiting, ads.longest_wait_s), (1, Some(40)));
        assert_eq!(ads.calls.len(), 2);
        // c1 answered in 5 s, c2 still waiting: counted = 2 − 0 − 1 = 1, SL = 1/1.
        assert_eq!((ads.today.offered, ads.today.answered), (2, 1));
        assert_eq!(ads.today.waiting, 1);
        assert_eq!(ads.today.service_level, Some(1.0));
        assert_eq!(ads.today.asa_s, Some(5.0));
        assert_eq!(m.queues[1].today.offered, 0);
        assert_eq!(m.queues[1].longest_wait_s, None);
        assert_eq!(m.total.offered, 2);
        assert_eq!(m.agents[0].in_state_s, Some(65));
        assert_eq!(m.agents[0].since, Some(utc(now - 65_000)));
        // Time in state unknown (0: stored by an older version): not made up.
        assert_eq!((m.agents[1].since, m.agents[1].in_state_s), (None, None));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["queues"][0]["today"]["offered"], 2);
        assert_eq!(json["agents"][1]["pause_reason"], "обед");
    }

    #[tokio::test]
    async fn the_cache_reads_todays_log_then_only_new_rows_and_reloads_on_a_new_day() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        super::super::store::migrate(&pool).await.unwrap();
        let store = QueueStore::new(pool);
        let acd = zvonar_acd::Acd::new(vec![], zvonar_acd::AcdSettings::default());
        let state = |at, s| {
            rec(
                at,
                RecordKind::AgentState {
                    agent: AgentId("anna".into()),
                    state: s,
                },
            )
        };
        let enq = |at, c: &str| {
            rec(
                at,
                RecordKind::Enqueued {
                    call: CallId(c.into()),
                    queue: QueueId("ads".into()),
                    emergency: false,
                },
            )
        };
        store
            .save(
                &acd,
                &[
                    state(100, StateKind::Available),
                    state(200, StateKind::Paused),
                    enq(300, "old"),
                    enq(1_000, "c1"),
                ],
            )
            .await
            .unwrap();
        let mut cache = LogCache::default();
        let got = cache.records(&store, 1_000).await.unwrap().to_vec();
        // anna's state at 1000 (paused, from 200), then today's rows.
        assert_eq!(got, vec![state(200, StateKind::Paused), enq(1_000, "c1")]);
        store.save(&acd, &[enq(1_100, "c2")]).await.unwrap();
        let got = cache.records(&store, 1_000).await.unwrap().to_vec();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], enq(1_100, "c2"));
        // The next day: only what is after its start.
        let got = cache.records(&store, 1_050).await.unwrap().to_vec();
        assert_eq!(got, vec![state(200, StateKind::Paused), enq(1_100, "c2")]);
    }
}
