//! Missed calls: the rule against a hand-made set of CDRs and timelines, repeated calls
//! collapsing into one entry, callback attempts and closing, overdue entries, working-hours
//! deadlines, and the report against hand-computed figures.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvonar_dispatch::{
    missed::AttemptError, CallbackOutcome, ClosedAs, DispatchStore, MissedCalls, MissedReason,
    MissedSettings, MissedStatus, SqliteDispatchStore, WorkingHours,
};
use zvonar_models::{CallEvent, CallEventKind, CallId, CallbackRequest, Disposition, PhoneNumber};

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 20, h, m, 0).unwrap()
}

fn always() -> MissedSettings {
    MissedSettings {
        max_attempts: 3,
        callback_within: Duration::minutes(15),
        hours: WorkingHours::always(chrono_tz::UTC),
        after_hours_flows: vec!["closed".into()],
    }
}

async fn store(settings: MissedSettings) -> (SqliteDispatchStore, sqlx::SqlitePool) {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    (
        SqliteDispatchStore::new(pool.clone()).with_missed(settings),
        pool,
    )
}

/// One hand-made call: what the engine would have sent, plus timeline kinds written by
/// components this branch does not have (the queue's `queue_entered`, `agent_connected`).
struct Call<'a> {
    id: &'a str,
    number: Option<&'a str>,
    at: DateTime<Utc>,
    flow: &'a str,
    answered: bool,
    raw_kinds: &'a [&'a str],
    outcome: Option<&'a str>,
    disposition: Disposition,
    cause: &'a str,
}

impl<'a> Call<'a> {
    fn new(id: &'a str, number: &'a str, at: DateTime<Utc>) -> Self {
        Call {
            id,
            number: Some(number),
            at,
            flow: "dispatcher",
            answered: true,
            raw_kinds: &[],
            outcome: None,
            disposition: Disposition::Answered,
            cause: "caller_bye",
        }
    }
    fn outcome(mut self, o: &'a str) -> Self {
        self.outcome = Some(o);
        self
    }
    fn unanswered(mut self, d: Disposition, cause: &'a str) -> Self {
        self.answered = false;
        self.disposition = d;
        self.cause = cause;
        self
    }
    fn kinds(mut self, k: &'a [&'a str]) -> Self {
        self.raw_kinds = k;
        self
    }
    fn flow(mut self, f: &'a str) -> Self {
        self.flow = f;
        self
    }
    /// No verified caller ID (the engine's `caller: None`).
    fn anonymous(mut self) -> Self {
        self.number = None;
        self
    }
    fn cause(mut self, c: &'a str) -> Self {
        self.cause = c;
        self
    }
}

async fn play(store: &SqliteDispatchStore, pool: &sqlx::SqlitePool, c: Call<'_>) {
    let id = CallId(c.id.into());
    let ev = |secs: i64, kind: CallEventKind| CallEvent {
        call_id: id.clone(),
        at: c.at + Duration::seconds(secs),
        kind,
    };
    let caller = c.number.map(|n| PhoneNumber::parse_ru(n).unwrap());
    let mut events = vec![ev(
        0,
        CallEventKind::Started {
            caller: caller.clone(),
            caller_raw: c
                .number
                .unwrap_or("anonymous")
                .trim_start_matches('+')
                .into(),
            callee: "74951234567".into(),
            transport: "udp".into(),
            flow: c.flow.into(),
        },
    )];
    if c.answered {
        events.push(ev(
            1,
            CallEventKind::Answered {
                recording: format!("2025/01/20/{}.wav", c.id),
            },
        ));
    }
    if c.outcome == Some("callback_requested") {
        events.push(ev(
            5,
            CallEventKind::CallbackRequested(CallbackRequest {
                caller: caller.clone(),
                account_id: None,
                heard: "оператор".into(),
            }),
        ));
    }
    for (n, e) in events.iter().enumerate() {
        assert!(store
            .record_event(&format!("{}-{n}", c.id), e)
            .await
            .unwrap());
    }
    for k in c.raw_kinds {
        sqlx::query("INSERT INTO call_events (call_id, at, kind, payload) VALUES (?, ?, ?, '{}')")
            .bind(c.id)
            .bind(c.at + Duration::seconds(10))
            .bind(k)
            .execute(pool)
            .await
            .unwrap();
    }
    let mut tail = Vec::new();
    if let Some(o) = c.outcome {
        tail.push(ev(20, CallEventKind::Outcome { outcome: o.into() }));
    }
    tail.push(ev(
        30,
        CallEventKind::Ended {
            disposition: c.disposition,
            cause: c.cause.into(),
            recording: c.answered.then(|| format!("2025/01/20/{}.wav", c.id)),
            talk_ms: if c.answered { 29_000 } else { 0 },
        },
    ));
    for (n, e) in tail.iter().enumerate() {
        assert!(store
            .record_event(&format!("{}-t{n}", c.id), e)
            .await
            .unwrap());
    }
}

/// The rule of `zvonar_dispatch::missed::rule` on one call of each kind.
#[tokio::test]
async fn the_rule_on_hand_made_calls() {
    let (s, pool) = store(always()).await;
    use Disposition::*;
    let cases: Vec<(Call, Option<MissedReason>)> = vec![
        (
            Call::new("rang", "+79160000001", t(9, 0)).unanswered(Missed, "cancel"),
            Some(MissedReason::RangOut),
        ),
        (
            Call::new("busy", "+79160000002", t(9, 1)).unanswered(Rejected, "sip_503"),
            Some(MissedReason::NotConnected),
        ),
        (
            Call::new("noroute", "+79160000003", t(9, 2)).unanswered(Rejected, "no_route"),
            None,
        ),
        (
            Call::new("ticket", "+79160000004", t(9, 3)).outcome("ticket_created"),
            None,
        ),
        (
            Call::new("outage", "+79160000005", t(9, 4)).outcome("outage_linked"),
            None,
        ),
        (
            Call::new("hangup", "+79160000006", t(9, 5)).outcome("caller_hangup"),
            Some(MissedReason::RobotHangup),
        ),
        (
            Call::new("unfinished", "+79160000007", t(9, 6)).outcome("unfinished"),
            Some(MissedReason::Unfinished),
        ),
        (
            Call::new("callback", "+79160000008", t(9, 7)).outcome("callback_requested"),
            Some(MissedReason::CallbackRequested),
        ),
        (
            Call::new("silence", "+79160000009", t(9, 8))
                .outcome("silence")
                .cause("robot_bye"),
            Some(MissedReason::RobotFailed),
        ),
        (
            Call::new("qabandon", "+79160000010", t(9, 9)).kinds(&["queue_entered"]),
            Some(MissedReason::QueueAbandoned),
        ),
        (
            Call::new("overflow", "+79160000011", t(9, 10))
                .kinds(&["queue_entered", "queue_overflowed"])
                .outcome("callback_requested"),
            Some(MissedReason::Overflow),
        ),
        (
            Call::new("agent", "+79160000012", t(9, 11))
                .kinds(&["queue_entered", "agent_connected"]),
            None,
        ),
        (
            Call::new("bridged", "+79160000016", t(9, 15)).kinds(&["dialling", "bridged"]),
            None,
        ),
        (
            Call::new("nobody", "+79160000017", t(9, 16)).kinds(&["dialling"]),
            Some(MissedReason::AgentNoAnswer),
        ),
        // An operator's callback nobody answered, and one the operator cancelled: the
        // company's own calls, not missed ones (the agent's phone is anonymous to the rule:
        // its From is an extension).
        (
            Call::new("callback-busy", "101", t(9, 17))
                .anonymous()
                .flow("agent_call")
                .kinds(&["dialling"])
                .cause("sip_486"),
            None,
        ),
        (
            Call::new("callback-cancel", "101", t(9, 18))
                .anonymous()
                .flow("agent_call")
                .unanswered(Missed, "cancel"),
            None,
        ),
        (
            Call::new("night", "+79160000013", t(9, 12))
                .flow("closed")
                .cause("robot_bye"),
            Some(MissedReason::AfterHours),
        ),
        (
            Call::new("message", "+79160000014", t(9, 13))
                .flow("bench")
                .cause("robot_bye"),
            None,
        ),
        (
            Call::new("broken", "+79160000015", t(9, 14)).cause("media_lost"),
            Some(MissedReason::RobotFailed),
        ),
    ];
    let mut expected = Vec::new();
    for (c, want) in cases {
        if let Some(r) = want {
            expected.push((c.id.to_string(), r));
        }
        play(&s, &pool, c).await;
    }
    let list = s
        .list_missed(MissedStatus::All, false, t(9, 0), 100, 0)
        .await
        .unwrap();
    let mut got: Vec<(String, MissedReason)> = list
        .iter()
        .map(|m| (m.last_call_id.0.clone(), m.reason))
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Every missed call of the set can be called back, and the answered ones can be heard;
    // a call never answered has no audio.
    for m in &list {
        assert_eq!(m.calls, 1);
        assert!(m.number.is_some());
        assert_eq!(m.status, "open");
        let answered = !matches!(m.reason, MissedReason::RangOut | MissedReason::NotConnected);
        assert_eq!(m.recording_call_id.is_some(), answered, "{m:?}");
    }
}

#[tokio::test]
async fn repeated_calls_collapse_and_a_completed_call_closes_the_entry() {
    let (s, pool) = store(always()).await;
    let n = "+79161112233";
    play(
        &s,
        &pool,
        Call::new("a1", n, t(9, 0)).unanswered(Disposition::Missed, "cancel"),
    )
    .await;
    play(
        &s,
        &pool,
        Call::new("a2", n, t(9, 2)).outcome("caller_hangup"),
    )
    .await;
    play(
        &s,
        &pool,
        Call::new("a3", n, t(9, 4)).unanswered(Disposition::Missed, "cancel"),
    )
    .await;
    let open = s
        .list_missed(MissedStatus::Open, false, t(9, 5), 10, 0)
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let m = &open[0];
    assert_eq!(m.calls, 3);
    assert_eq!((m.first_at, m.last_at), (t(9, 0), t(9, 4)));
    assert_eq!(m.last_call_id.0, "a3");
    assert_eq!(m.reason, MissedReason::RangOut);
    // The latest call that can be heard is a2 (a3 was never answered).
    assert_eq!(m.recording_call_id.as_ref().unwrap().0, "a2");
    assert_eq!(m.due_at, t(9, 15));
    let details = s.missed_call(m.id, t(9, 5)).await.unwrap().unwrap();
    let legs: Vec<_> = details.calls.iter().map(|c| c.call_id.0.as_str()).collect();
    assert_eq!(legs, ["a1", "a2", "a3"]);
    // An anonymous caller gets an entry of its own each time.
    let mut anon = Call::new("x1", "", t(9, 6)).unanswered(Disposition::Missed, "cancel");
    anon.number = None;
    play(&s, &pool, anon).await;
    let mut anon = Call::new("x2", "", t(9, 7)).unanswered(Disposition::Missed, "cancel");
    anon.number = None;
    play(&s, &pool, anon).await;
    let all = s
        .list_missed(MissedStatus::Open, false, t(9, 8), 10, 0)
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|m| m.number.is_none()).count(), 2);
    // The resident calls again and the robot files the ticket: the entry closes.
    play(
        &s,
        &pool,
        Call::new("a4", n, t(9, 10)).outcome("ticket_created"),
    )
    .await;
    let m = s.missed_call(m.id, t(9, 11)).await.unwrap().unwrap().missed;
    assert_eq!(
        (m.status.as_str(), m.closed_as),
        ("closed", Some(ClosedAs::CalledAgain))
    );
    // The next missed call opens a new entry.
    play(
        &s,
        &pool,
        Call::new("a5", n, t(9, 20)).unanswered(Disposition::Missed, "cancel"),
    )
    .await;
    let open = s
        .open_missed_for(&PhoneNumber::parse_ru(n).unwrap(), t(9, 21))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(open.id, m.id);
    assert_eq!(open.calls, 1);
}

#[tokio::test]
async fn attempts_close_entries_and_overdue_ones_come_first() {
    let mut settings = always();
    settings.max_attempts = 2;
    let (s, pool) = store(settings).await;
    for (id, n, m) in [
        ("b1", "+79160000101", 0),
        ("b2", "+79160000102", 1),
        ("b3", "+79160000103", 2),
        ("b4", "+79160000104", 30),
    ] {
        play(
            &s,
            &pool,
            Call::new(id, n, t(9, m)).unanswered(Disposition::Missed, "cancel"),
        )
        .await;
    }
    let ids: Vec<i64> = {
        let mut l = s
            .list_missed(MissedStatus::Open, false, t(9, 0), 10, 0)
            .await
            .unwrap();
        l.sort_by_key(|m| m.first_at);
        l.iter().map(|m| m.id).collect()
    };
    // At 09:16 b1 (due 09:15) is overdue, b2 (09:16) too, b3 (09:17) not yet.
    let list = s
        .list_missed(MissedStatus::Open, false, t(9, 16), 10, 0)
        .await
        .unwrap();
    let order: Vec<(String, bool)> = list
        .iter()
        .map(|m| (m.last_call_id.0.clone(), m.overdue))
        .collect();
    assert_eq!(
        order,
        [
            ("b1".to_string(), true),
            ("b2".to_string(), true),
            ("b3".to_string(), false),
            ("b4".to_string(), false)
        ]
    );
    let overdue = s
        .list_missed(MissedStatus::Open, true, t(9, 16), 10, 0)
        .await
        .unwrap();
    assert_eq!(overdue.len(), 2);

    // b1: no answer, then busy → closed after max_attempts = 2 failed attempts.
    let (a, m) = s
        .record_attempt(ids[0], t(9, 20), "op1", CallbackOutcome::NoAnswer, "гудки")
        .await
        .unwrap();
    assert_eq!((a.by.as_str(), a.comment.as_str()), ("op1", "гудки"));
    assert_eq!(
        (m.status.as_str(), m.attempts, m.overdue),
        ("open", 1, false)
    );
    let (_, m) = s
        .record_attempt(ids[0], t(9, 25), "op1", CallbackOutcome::Busy, "")
        .await
        .unwrap();
    assert_eq!(
        (m.status.as_str(), m.closed_as, m.failed_attempts),
        ("closed", Some(ClosedAs::AttemptsExhausted), 2)
    );
    assert!(matches!(
        s.record_attempt(ids[0], t(9, 26), "op1", CallbackOutcome::Reached, "")
            .await,
        Err(AttemptError::Closed(_))
    ));
    // b2: reached at once. b3: wrong number.
    let (_, m) = s
        .record_attempt(
            ids[1],
            t(9, 21),
            "op2",
            CallbackOutcome::Reached,
            "всё решили",
        )
        .await
        .unwrap();
    assert_eq!(m.closed_as, Some(ClosedAs::Reached));
    let (_, m) = s
        .record_attempt(ids[2], t(9, 22), "op2", CallbackOutcome::WrongNumber, "")
        .await
        .unwrap();
    assert_eq!(m.closed_as, Some(ClosedAs::WrongNumber));
    assert!(matches!(
        s.record_attempt(999, t(9, 26), "op1", CallbackOutcome::Reached, "")
            .await,
        Err(AttemptError::NotFound(999))
    ));
    let details = s.missed_call(ids[0], t(9, 30)).await.unwrap().unwrap();
    let outcomes: Vec<_> = details.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [CallbackOutcome::NoAnswer, CallbackOutcome::Busy]);
    let open = s
        .list_missed(MissedStatus::Open, false, t(9, 30), 10, 0)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].last_call_id.0, "b4");
}

#[test]
fn working_hours_deadlines() {
    let msk = chrono_tz::Europe::Moscow;
    let h = WorkingHours::parse("08:00-20:00", "mon-fri", msk).unwrap();
    let local = |d: u32, hh: u32, mm: u32| {
        msk.with_ymd_and_hms(2025, 1, d, hh, mm, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let q = Duration::minutes(15);
    // 2025-01-17 is a Friday, 2025-01-20 a Monday.
    assert_eq!(h.deadline(local(20, 10, 0), q), local(20, 10, 15));
    assert_eq!(h.deadline(local(17, 19, 55), q), local(20, 8, 10));
    assert_eq!(h.deadline(local(20, 3, 0), q), local(20, 8, 15));
    assert_eq!(h.deadline(local(18, 12, 0), q), local(20, 8, 15));
    assert_eq!(h.deadline(local(20, 21, 0), q), local(21, 8, 15));
    assert!(h.is_open(local(20, 8, 0)) && !h.is_open(local(20, 20, 0)));
    let all_day = WorkingHours::parse("00:00-24:00", "mon-sun", msk).unwrap();
    assert_eq!(all_day.deadline(local(18, 23, 50), q), local(19, 0, 5));
    for (w, d) in [
        ("20:00-08:00", "mon-fri"),
        ("8-20", "mon-fri"),
        ("08:00-20:00", "fri-mon"),
        ("08:00-20:00", "funday"),
        ("08:00-20:00", ""),
    ] {
        assert!(WorkingHours::parse(w, d, msk).is_err(), "{w} {d}");
    }
}

/// The report for 2025-01-20 against figures computed by hand (see the comments).
#[tokio::test]
async fn report_matches_hand_computed_figures() {
    let (s, pool) = store(always()).await;
    let miss = |id, n, at| Call::new(id, n, at).unanswered(Disposition::Missed, "cancel");
    // A: two rang-out calls (09:00, 09:05); no answer at 09:10, reached at 09:20.
    play(&s, &pool, miss("a1", "+79160000001", t(9, 0))).await;
    play(&s, &pool, miss("a2", "+79160000001", t(9, 5))).await;
    // B: hung up on the robot at 10:00; busy at 10:30 (late: due 10:15), wrong number 10:40.
    play(
        &s,
        &pool,
        Call::new("b1", "+79160000002", t(10, 0)).outcome("caller_hangup"),
    )
    .await;
    // C: callback request at 11:00, never called back: overdue at 12:00.
    play(
        &s,
        &pool,
        Call::new("c1", "+79160000003", t(11, 0)).outcome("callback_requested"),
    )
    .await;
    // D: rang out the day before at 23:58, no answer at 00:05 (an attempt of the period).
    play(
        &s,
        &pool,
        miss("d1", "+79160000004", t(0, 0) - Duration::minutes(2)),
    )
    .await;
    // E: unfinished at 11:50, due 12:05: not called back, not overdue at 12:00.
    play(
        &s,
        &pool,
        Call::new("e1", "+79160000005", t(11, 50)).outcome("unfinished"),
    )
    .await;
    let entry = |n: &str| {
        let s = &s;
        let n = PhoneNumber::parse_ru(n).unwrap();
        async move { s.open_missed_for(&n, t(12, 0)).await.unwrap().unwrap().id }
    };
    let (a, b, d) = (
        entry("+79160000001").await,
        entry("+79160000002").await,
        entry("+79160000004").await,
    );
    use CallbackOutcome::*;
    for (id, at, o) in [
        (a, t(9, 10), NoAnswer),
        (a, t(9, 20), Reached),
        (b, t(10, 30), Busy),
        (b, t(10, 40), WrongNumber),
        (d, t(0, 5), NoAnswer),
    ] {
        s.record_attempt(id, at, "op", o, "").await.unwrap();
    }
    let r = s
        .missed_report(t(0, 0), t(0, 0) + Duration::days(1), t(12, 0))
        .await
        .unwrap();
    assert_eq!(r.missed_calls, 5, "A×2, B, C, E");
    let reasons: Vec<(&str, i64)> = r
        .by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(
        reasons,
        [
            ("callback_requested", 1),
            ("rang_out", 2),
            ("robot_hangup", 1),
            ("unfinished", 1)
        ]
    );
    assert_eq!(r.by_reason.len(), MissedReason::ALL.len());
    assert_eq!(r.entries, 4, "A, B, C, E");
    assert_eq!(r.attempts, 5);
    assert_eq!(
        (
            r.by_outcome["no_answer"],
            r.by_outcome["reached"],
            r.by_outcome["busy"],
            r.by_outcome["wrong_number"]
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (
            r.by_closing["reached"],
            r.by_closing["wrong_number"],
            r.by_closing["open"],
            r.by_closing["attempts_exhausted"],
            r.by_closing["called_again"]
        ),
        (1, 1, 2, 0, 0)
    );
    assert_eq!(
        (
            r.called_back_in_time,
            r.called_back_late,
            r.not_called_back,
            r.overdue
        ),
        (1, 1, 2, 1)
    );
    // A waited 10 min (09:00 → 09:10), B 30 min (10:00 → 10:30): mean 20 min.
    assert_eq!(r.mean_time_to_callback_s, Some(1200.0));
}
