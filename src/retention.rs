//! Retention of personal data on disk: call recordings and the TTS disk cache (which holds
//! synthesised addresses and ticket numbers) are deleted after `[storage] retention_days`.
//!
//! [`sweep`] takes `now` as an argument (tests pass a fixed clock); [`run_daily`] calls it
//! at start and then every 24 hours. A recording is expired when its call started more
//! than the retention period before `now`: the file is removed and the CDR marked
//! (`recording_deleted_at`), so the API answers «expired» instead of a bare 404. A file
//! that is already gone is marked too. TTS cache files expire by modification time. The
//! recordings of emergency call-outs to staff on duty ([`sweep_duty`]) expire the same way
//! by the attempt's start; the attempt is marked (`recording_deleted_at`).

use chrono::{DateTime, Utc};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zvonar_dispatch::DispatchStore;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct Retention {
    /// Keep files this long, days (`[storage] retention_days`, at least 1).
    pub days: u32,
    /// The recordings root (CDR paths are relative to it).
    pub recordings_dir: PathBuf,
    /// The TTS disk cache, when configured.
    pub tts_cache_dir: Option<PathBuf>,
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Recording files deleted.
    pub recordings_deleted: usize,
    /// CDRs marked `recording_deleted_at` (including those whose file was already gone).
    pub calls_marked: usize,
    /// TTS cache files deleted.
    pub tts_files_deleted: usize,
    /// Files that could not be deleted (left for the next sweep; logged).
    pub failures: usize,
}

/// Why a sweep stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The dispatch store failed to list expired recordings.
    #[error("listing expired recordings: {0}")]
    Query(#[from] zvonar_dispatch::QueryError),
}

/// Rows fetched per round trip.
const BATCH: u32 = 500;

impl Retention {
    /// The oldest moment still kept at `now`.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.days.max(1)))
    }
}

/// Deletes what is older than the retention period at `now`: expired recordings (and marks
/// their calls) and TTS cache files last modified before the cutoff.
///
/// Errors: [`SweepError`] when the store cannot list expired calls; files that cannot be
/// deleted are counted in [`SweepReport::failures`], logged, and retried next time.
pub async fn sweep(
    store: &dyn DispatchStore,
    r: &Retention,
    now: DateTime<Utc>,
) -> Result<SweepReport, SweepError> {
    let cutoff = r.cutoff(now);
    let mut report = SweepReport::default();
    loop {
        let batch = store.recordings_before(cutoff, BATCH).await?;
        let n = batch.len();
        let mut marked_any = false;
        for (call_id, rel) in batch {
            let Some(path) = inside(&r.recordings_dir, &rel) else {
                // Not a path the engine writes: never delete outside the root, just mark.
                tracing::warn!(%call_id, "recording path outside the recordings directory");
                marked_any |= mark(store, &call_id, now, &mut report).await;
                continue;
            };
            match std::fs::remove_file(&path) {
                Ok(()) => report.recordings_deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(%call_id, error = %e, "expired recording not deleted");
                    report.failures += 1;
                    continue;
                }
            }
            // A rating call's comment, kept next to its recording (`<call>-comment.wav`).
            let comment = path.with_file_name(format!(
                "{}-comment.wav",
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
            ));
            match std::fs::remove_file(&comment) {
                Ok(()) => report.recordings_deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(%call_id, error = %e, "expired comment recording not deleted");
                    report.failures += 1;
                    continue;
                }
            }
            if let Some(dir) = path.parent() {
                remove_empty_dirs(dir, &r.recordings_dir);
            }
            marked_any |= mark(store, &call_id, now, &mut report).await;
        }
        // Stop at the last batch, or when nothing in a batch could be marked (no progress).
        if n < BATCH as usize || !marked_any {
            break;
        }
    }
    if let Some(dir) = &r.tts_cache_dir {
        sweep_files_older_than(dir, cutoff, &mut report);
    }
    Ok(report)
}

/// Deletes the recordings of duty call attempts (emergency call-outs) started more than the
/// retention period before `now` and marks the attempts; [`SweepReport::calls_marked`]
/// counts the attempts marked.
///
/// Errors: [`SweepError`] when the store cannot list them; files that cannot be deleted are
/// counted in [`SweepReport::failures`], logged, and retried next time.
pub async fn sweep_duty(
    duty: &dyn zvonar_dispatch::duty::DutyStore,
    r: &Retention,
    now: DateTime<Utc>,
) -> Result<SweepReport, SweepError> {
    let mut report = SweepReport::default();
    for (ticket, n, rel) in duty.recordings_before(r.cutoff(now)).await? {
        if let Some(path) = inside(&r.recordings_dir, &rel) {
            match std::fs::remove_file(&path) {
                Ok(()) => report.recordings_deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(ticket, attempt = n, error = %e, "expired duty recording not deleted");
                    report.failures += 1;
                    continue;
                }
            }
            if let Some(dir) = path.parent() {
                remove_empty_dirs(dir, &r.recordings_dir);
            }
        } else {
            tracing::warn!(
                ticket,
                attempt = n,
                "duty recording path outside the recordings directory"
            );
        }
        match duty.mark_recording_deleted(ticket, n, now).await {
            Ok(()) => report.calls_marked += 1,
            Err(e) => {
                tracing::error!(ticket, attempt = n, error = %e, "expired duty recording not marked");
                report.failures += 1;
            }
        }
    }
    Ok(report)
}

async fn mark(
    store: &dyn DispatchStore,
    call_id: &zvonar_models::CallId,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> bool {
    match store.mark_recording_deleted(call_id, now).await {
        Ok(()) => {
            report.calls_marked += 1;
            true
        }
        Err(e) => {
            tracing::error!(%call_id, error = %e, "expired recording not marked");
            report.failures += 1;
            false
        }
    }
}

/// `root/rel` when `rel` is a plain relative path (no `..`, not absolute).
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(p))
}

/// Removes `dir` and its parents while they are empty, stopping at `root`.
fn remove_empty_dirs(dir: &Path, root: &Path) {
    let mut d = dir.to_path_buf();
    while d != root && d.starts_with(root) {
        if std::fs::remove_dir(&d).is_err() {
            break;
        }
        if !d.pop() {
            break;
        }
    }
}

/// Deletes regular files under `dir` (one level, as the TTS cache is flat) modified
/// before `cutoff`.
fn sweep_files_older_than(dir: &Path, cutoff: DateTime<Utc>, report: &mut SweepReport) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let Ok(modified) = meta.modified() else {
            continue;
        };
        if DateTime::<Utc>::from(modified) >= cutoff {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => report.tts_files_deleted += 1,
            Err(err) => {
                tracing::error!(error = %err, "expired TTS cache file not deleted");
                report.failures += 1;
            }
        }
    }
}

/// Sweeps at start and then every 24 hours, logging what was deleted; `duty`: also the
/// recordings of emergency call-outs ([`sweep_duty`]).
pub async fn run_daily(
    store: Arc<dyn DispatchStore>,
    duty: Option<Arc<dyn zvonar_dispatch::duty::DutyStore>>,
    r: Retention,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        tick.tick().await;
        if let Some(d) = &duty {
            match sweep_duty(d.as_ref(), &r, Utc::now()).await {
                Ok(rep) => tracing::info!(
                    days = r.days,
                    recordings = rep.recordings_deleted,
                    attempts = rep.calls_marked,
                    failures = rep.failures,
                    "retention sweep of duty call recordings done"
                ),
                Err(e) => tracing::error!(error = %e, "retention sweep of duty recordings failed"),
            }
        }
        match sweep(store.as_ref(), &r, Utc::now()).await {
            Ok(rep) => tracing::info!(
                days = r.days,
                recordings = rep.recordings_deleted,
                calls = rep.calls_marked,
                tts_files = rep.tts_files_deleted,
                failures = rep.failures,
                "retention sweep done"
            ),
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use zvonar_dispatch::SqliteDispatchStore;
    use zvonar_models::{CallEvent, CallEventKind, CallId, Disposition};

    async fn store() -> SqliteDispatchStore {
        let pool = zvonar_billing::open_sqlite(":memory:").await.unwrap();
        zvonar_dispatch::migrate(&pool).await.unwrap();
        SqliteDispatchStore::new(pool)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A finished answered call started at `started`, with its recording file written.
    async fn call(s: &SqliteDispatchStore, dir: &Path, id: &str, started: DateTime<Utc>) -> String {
        let call_id = CallId(id.into());
        let rel = format!("{}/{id}.wav", started.format("%Y/%m/%d"));
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"RIFF").unwrap();
        let mut n = 0;
        for (t, kind) in [
            (
                started,
                CallEventKind::Started {
                    caller: None,
                    caller_raw: "100".into(),
                    callee: "200".into(),
                    transport: "udp".into(),
                    flow: "d".into(),
                },
            ),
            (
                started,
                CallEventKind::Answered {
                    recording: rel.clone(),
                },
            ),
            (
                started + chrono::Duration::seconds(60),
                CallEventKind::Ended {
                    disposition: Disposition::Answered,
                    cause: "caller_bye".into(),
                    recording: Some(rel.clone()),
                    talk_ms: 60_000,
                },
            ),
        ] {
            n += 1;
            s.record_event(
                &format!("{id}-{n}"),
                &CallEvent {
                    call_id: call_id.clone(),
                    at: t,
                    kind,
                },
            )
            .await
            .unwrap();
        }
        rel
    }

    /// A campaign call's CDR (the events `campaign.rs` publishes): listed as outbound with its
    /// campaign and outcome, and its recording expires like an inbound call's. Before CDRs
    /// were written for campaign calls, their recordings were never removed.
    #[tokio::test]
    async fn an_old_campaign_recording_is_removed_through_its_cdr() {
        let dir = std::env::temp_dir().join(format!("zvonar-retention-out-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rec = dir.join("recordings");
        let s = store().await;
        let mut rels = Vec::new();
        for (id, started) in [
            ("campaign-7-1", "2029-04-01T10:00:00Z"),
            ("campaign-7-2", "2029-05-30T10:00:00Z"),
        ] {
            let started = at(started);
            let rel = format!("{}/{id}.wav", started.format("%Y/%m/%d"));
            std::fs::create_dir_all(rec.join(&rel).parent().unwrap()).unwrap();
            std::fs::write(rec.join(&rel), b"RIFF").unwrap();
            let call_id = CallId(id.into());
            for (n, (t, kind)) in [
                (
                    started,
                    CallEventKind::OutboundStarted {
                        callee: "+79161234567".into(),
                        flow: "campaign".into(),
                        campaign_id: Some(7),
                        ticket_id: None,
                    },
                ),
                (
                    started + chrono::Duration::seconds(5),
                    CallEventKind::Answered {
                        recording: rel.clone(),
                    },
                ),
                (
                    started + chrono::Duration::seconds(25),
                    CallEventKind::OutboundEnded {
                        outcome: "answered".into(),
                        sip_code: Some(200),
                        recording: Some(rel.clone()),
                    },
                ),
            ]
            .into_iter()
            .enumerate()
            {
                let event = CallEvent {
                    call_id: call_id.clone(),
                    at: t,
                    kind,
                };
                s.record_event(&format!("{id}-{n}"), &event).await.unwrap();
            }
            rels.push(rel);
        }
        let cdr = s
            .call(&CallId("campaign-7-1".into()))
            .await
            .unwrap()
            .unwrap()
            .cdr;
        assert_eq!(
            (
                cdr.direction.as_str(),
                cdr.campaign_id,
                cdr.outcome.as_deref()
            ),
            ("outbound", Some(7), Some("answered"))
        );
        assert_eq!(cdr.callee.as_deref(), Some("+79161234567"));
        assert_eq!((cdr.duration_ms, cdr.talk_ms), (Some(25_000), Some(20_000)));
        assert_eq!(cdr.disposition, Some(Disposition::Answered));
        let listed = s.list_calls(10, 0).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|c| c.direction == "outbound"));

        let r = Retention {
            days: 30,
            recordings_dir: rec.clone(),
            tts_cache_dir: None,
        };
        let rep = sweep(&s, &r, at("2029-06-01T12:00:00Z")).await.unwrap();
        assert_eq!((rep.recordings_deleted, rep.calls_marked), (1, 1));
        assert!(
            !rec.join(&rels[0]).exists(),
            "the old campaign recording is gone"
        );
        assert!(rec.join(&rels[1]).is_file(), "the recent one is kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn expired_recordings_are_deleted_and_marked_newer_kept() {
        let dir = std::env::temp_dir().join(format!("zvonar-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rec = dir.join("recordings");
        let cache = dir.join("tts-cache");
        std::fs::create_dir_all(&cache).unwrap();
        let s = store().await;
        let now = at("2029-06-01T12:00:00Z");
        // Retention 30 days: the cutoff is 2029-05-02 12:00 UTC.
        let old = call(&s, &rec, "old", at("2029-04-01T10:00:00Z")).await;
        let edge = call(&s, &rec, "edge", at("2029-05-02T11:59:00Z")).await;
        let new = call(&s, &rec, "new", at("2029-05-02T12:01:00Z")).await;
        // An expired call whose file is already gone is still marked.
        let gone = call(&s, &rec, "gone", at("2029-01-01T00:00:00Z")).await;
        std::fs::remove_file(rec.join(&gone)).unwrap();
        // TTS cache: one file last used before the cutoff, one after.
        let stale = cache.join("stale.pcm");
        let fresh = cache.join("fresh.pcm");
        for (p, t) in [
            (&stale, "2029-05-01T00:00:00Z"),
            (&fresh, "2029-05-30T00:00:00Z"),
        ] {
            std::fs::write(p, b"x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(at(t).into())
                .unwrap();
        }
        let r = Retention {
            days: 30,
            recordings_dir: rec.clone(),
            tts_cache_dir: Some(cache.clone()),
        };
        let rep = sweep(&s, &r, now).await.unwrap();
        assert_eq!(
            rep,
            SweepReport {
                recordings_deleted: 2,
                calls_marked: 3,
                tts_files_deleted: 1,
                failures: 0
            }
        );
        assert!(!rec.join(&old).exists() && !rec.join(&edge).exists());
        assert!(rec.join(&new).is_file());
        // Emptied date folders go too; the root stays.
        assert!(!rec.join("2029/04").exists());
        assert!(rec.is_dir());
        assert!(!stale.exists() && fresh.is_file());
        for (id, deleted) in [
            ("old", true),
            ("edge", true),
            ("gone", true),
            ("new", false),
        ] {
            let cdr = s.call(&CallId(id.into())).await.unwrap().unwrap().cdr;
            assert_eq!(cdr.recording_deleted_at.is_some(), deleted, "{id}");
            assert!(cdr.recording.is_some(), "{id}: the path is kept");
        }
        // A second sweep at the same time finds nothing more.
        let again = sweep(&s, &r, now).await.unwrap();
        assert_eq!(again, SweepReport::default());
        // Just after the cutoff passes the newer call's start minus a minute, it is still kept.
        let later = sweep(&s, &r, at("2029-06-01T12:00:30Z")).await.unwrap();
        assert_eq!(later.recordings_deleted, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The recordings of emergency call-outs expire by the attempt's start; the attempt is
    /// marked and keeps its path; a newer one stays; a running escalation is left alone.
    #[tokio::test]
    async fn expired_duty_recordings_are_deleted_and_their_attempts_marked() {
        use zvonar_dispatch::duty::{
            AttemptOutcome, Callee, DutyPhone, DutyStore, Escalation, Rules,
        };
        let dir =
            std::env::temp_dir().join(format!("zvonar-retention-duty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rec = dir.join("recordings");
        let s = store().await;
        let now = at("2029-06-01T12:00:00Z");
        let callee = |id: i64| Callee {
            user_id: id,
            name: format!("user{id}"),
            phone: DutyPhone::Account(format!("10{id}")),
            supervisor: false,
        };
        let rules = Rules {
            rounds: 1,
            round_gap_s: 0,
        };
        let req: zvonar_models::TicketRequest = serde_json::from_value(serde_json::json!({
            "caller": null, "account_id": null, "building_id": null, "premises_id": null,
            "apartment": null, "topic": "leak", "emergency": true, "description": "",
            "outage_id": null, "unfinished": false
        }))
        .unwrap();
        // (started, over): an old finished escalation, a new one, an old one still calling.
        let mut files = Vec::new();
        for (started, finish) in [
            ("2029-04-01T10:00:00Z", true),
            ("2029-05-30T10:00:00Z", true),
            ("2029-04-02T10:00:00Z", false),
        ] {
            let t0 = at(started);
            let t = s.file_ticket(None, t0, &req).await.unwrap();
            let mut e = Escalation::new(t.id.0, "Сантехники", vec![callee(1), callee(2)], t0);
            e.poll(t0, &rules);
            let rel = format!("2029/04/01/duty-{}-1.wav", t.id.0);
            std::fs::create_dir_all(rec.join("2029/04/01")).unwrap();
            std::fs::write(rec.join(&rel), b"RIFF").unwrap();
            e.on_call_ended(
                1,
                AttemptOutcome::Refused,
                Some(200),
                Some(rel.clone()),
                t0,
                &rules,
            );
            if finish {
                e.on_call_ended(2, AttemptOutcome::Accepted, Some(200), None, t0, &rules);
            }
            assert!(s.start_escalation(&e, t0).await.unwrap());
            files.push((t.id.0, rel));
        }
        let r = Retention {
            days: 30,
            recordings_dir: rec.clone(),
            tts_cache_dir: None,
        };
        let rep = sweep_duty(&s, &r, now).await.unwrap();
        assert_eq!(
            rep,
            SweepReport {
                recordings_deleted: 1,
                calls_marked: 1,
                tts_files_deleted: 0,
                failures: 0
            }
        );
        assert!(!rec.join(&files[0].1).exists());
        assert!(rec.join(&files[1].1).is_file() && rec.join(&files[2].1).is_file());
        let e = s.escalation(files[0].0).await.unwrap().unwrap();
        assert_eq!(e.attempts[0].recording_deleted_at, Some(now));
        assert_eq!(
            e.attempts[0].recording.as_deref(),
            Some(files[0].1.as_str())
        );
        assert_eq!(
            sweep_duty(&s, &r, now).await.unwrap(),
            SweepReport::default()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A rating call (zvonar called out: no `Started`, only `Answered`) expires by its answer
    /// time, its comment recording with it.
    #[tokio::test]
    async fn a_rating_call_expires_by_its_answer_time_with_its_comment() {
        let dir =
            std::env::temp_dir().join(format!("zvonar-retention-rating-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rec = dir.join("recordings");
        let s = store().await;
        let mut files = Vec::new();
        for (id, answered) in [
            ("campaign-1-1", at("2029-04-01T10:00:00Z")),
            ("campaign-1-2", at("2029-05-20T10:00:00Z")),
        ] {
            let rel = format!("{}/{id}.wav", answered.format("%Y/%m/%d"));
            let comment = rel.replace(".wav", "-comment.wav");
            std::fs::create_dir_all(rec.join(&rel).parent().unwrap()).unwrap();
            std::fs::write(rec.join(&rel), b"RIFF").unwrap();
            std::fs::write(rec.join(&comment), b"RIFF").unwrap();
            s.record_event(
                &format!("{id}-1"),
                &CallEvent {
                    call_id: CallId(id.into()),
                    at: answered,
                    kind: CallEventKind::Answered {
                        recording: rel.clone(),
                    },
                },
            )
            .await
            .unwrap();
            files.push((rel, comment));
        }
        let r = Retention {
            days: 30,
            recordings_dir: rec.clone(),
            tts_cache_dir: None,
        };
        let rep = sweep(&s, &r, at("2029-06-01T12:00:00Z")).await.unwrap();
        assert_eq!(
            (rep.recordings_deleted, rep.calls_marked, rep.failures),
            (2, 1, 0)
        );
        assert!(!rec.join(&files[0].0).exists() && !rec.join(&files[0].1).exists());
        assert!(rec.join(&files[1].0).is_file() && rec.join(&files[1].1).is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
