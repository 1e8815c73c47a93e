//! The recogniser's queue: bounded, shortest utterance first (with ageing), and without the
//! utterances of callers who hung up.
//!
//! Order: an utterance is *due* at its arrival time plus its own length, and the worker
//! that frees up takes the waiting utterance due first. In a burst (many callers finishing
//! within the same second) that is shortest first — a «да» or an apartment number is
//! decoded before a long description, so most callers get their answer sooner — and
//! a long utterance is never passed over for longer than its own length by ones that
//! arrive after it.

use super::{AsrError, AsrOutcome, Expect};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// One utterance to decode.
pub(super) struct Job {
    pub(super) pcm_8k: Vec<i16>,
    /// What answer the question expects (slot-aware decoding).
    pub(super) expect: Expect,
    pub(super) queued: Instant,
    pub(super) cancel: Option<CancellationToken>,
    pub(super) reply: oneshot::Sender<Result<AsrOutcome, AsrError>>,
    /// Early recognition ([`super::Asr::start_early`]): taken only by an idle worker, and
    /// cancelled (`cancel`, which it must have) when a closed utterance would otherwise
    /// wait for it.
    pub(super) early: bool,
}

impl Job {
    /// When it is due: arrival plus its length (8 samples per ms).
    fn due(&self) -> Instant {
        self.queued + Duration::from_millis((self.pcm_8k.len() / 8) as u64)
    }

    /// Its call no longer wants it: the caller hung up (token cancelled) or stopped
    /// waiting (the future awaiting the reply was dropped).
    pub(super) fn unwanted(&self) -> bool {
        self.reply.is_closed()
            || self
                .cancel
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled)
    }
}

#[derive(Default)]
struct State {
    waiting: Vec<Job>,
    /// Jobs taken by workers and not finished.
    decoding: usize,
    /// Early jobs being decoded: their cancel tokens, by the ticket [`JobQueue::pop`] gave.
    early_decoding: Vec<(u64, CancellationToken)>,
    /// The next ticket.
    next_ticket: u64,
    closed: bool,
}

/// Waiting utterances shared by the submitting calls and the worker threads.
pub(super) struct JobQueue {
    state: Mutex<State>,
    ready: Condvar,
    /// Worker threads taking jobs from it.
    workers: usize,
}

impl Default for JobQueue {
    /// A queue for one worker.
    fn default() -> Self {
        JobQueue::new(1)
    }
}

impl JobQueue {
    /// A queue for `workers` worker threads.
    pub(super) fn new(workers: usize) -> Self {
        JobQueue {
            state: Mutex::default(),
            ready: Condvar::new(),
            workers: workers.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker that panicked while holding the lock left the list consistent (every
        // change is one push or remove): go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Utterances waiting or being decoded.
    pub(super) fn depth(&self) -> usize {
        let s = self.lock();
        s.waiting.len() + s.decoding
    }

    /// Queues `job` unless `max` utterances are already waiting or being decoded (those of
    /// callers who hung up do not count: they are dropped here).
    ///
    /// Errors: [`AsrError::Overloaded`] with the number waiting or being decoded;
    /// [`AsrError::Stopped`] after [`JobQueue::close`]. The job is dropped then.
    pub(super) fn push(&self, job: Job, max: usize) -> Result<(), AsrError> {
        let mut s = self.lock();
        if s.closed {
            return Err(AsrError::Stopped);
        }
        drop_unwanted(&mut s.waiting);
        let depth = s.waiting.len() + s.decoding;
        if job.early {
            // Only for an idle worker: early recognition never makes anyone wait.
            if depth >= self.workers || job.cancel.is_none() {
                return Err(AsrError::Overloaded(depth));
            }
        } else {
            if depth >= max {
                return Err(AsrError::Overloaded(depth));
            }
            if depth >= self.workers {
                // No worker is free for this closed utterance: one decoding early stops.
                if let Some((_, token)) = s.early_decoding.pop() {
                    token.cancel();
                }
            }
        }
        s.waiting.push(job);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next utterance to decode (the one due first; early ones after all others),
    /// waiting for one, with its ticket; `None` once the queue is closed and empty. The
    /// caller must call [`JobQueue::done`] with the ticket after decoding it.
    pub(super) fn pop(&self) -> Option<(Job, u64)> {
        let mut s = self.lock();
        loop {
            drop_unwanted(&mut s.waiting);
            let next = s
                .waiting
                .iter()
                .enumerate()
                .min_by_key(|(_, j)| (j.early, j.due()))
                .map(|(i, _)| i);
            if let Some(i) = next {
                // `remove` keeps arrival order among jobs due at the same instant.
                let job = s.waiting.remove(i);
                s.decoding += 1;
                let ticket = s.next_ticket;
                s.next_ticket += 1;
                if let (true, Some(token)) = (job.early, &job.cancel) {
                    s.early_decoding.push((ticket, token.clone()));
                }
                return Some((job, ticket));
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The job [`JobQueue::pop`] gave with `ticket` is finished.
    pub(super) fn done(&self, ticket: u64) {
        let mut s = self.lock();
        s.decoding = s.decoding.saturating_sub(1);
        s.early_decoding.retain(|(t, _)| *t != ticket);
    }

    /// No more jobs: workers end once the waiting ones are done.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// Answers the jobs of callers who hung up with [`AsrError::Cancelled`] and removes them.
fn drop_unwanted(waiting: &mut Vec<Job>) {
    let mut i = 0;
    while i < waiting.len() {
        if waiting[i].unwanted() {
            let job = waiting.remove(i);
            let _ = job.reply.send(Err(AsrError::Cancelled));
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(ms: usize, queued: Instant) -> (Job, oneshot::Receiver<Result<AsrOutcome, AsrError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Job {
                pcm_8k: vec![0; ms * 8],
                expect: Expect::Free,
                queued,
                cancel: None,
                reply,
                early: false,
            },
            rx,
        )
    }

    fn len_ms(j: &Job) -> usize {
        j.pcm_8k.len() / 8
    }

    #[test]
    fn a_burst_is_decoded_shortest_first() {
        let q = JobQueue::default();
        let t0 = Instant::now();
        let mut keep = Vec::new();
        // Four callers finish within 300 ms: a description, «да», an apartment, another.
        for (ms, at) in [(3500, 0), (400, 100), (1200, 200), (3000, 300)] {
            let (j, rx) = job(ms, t0 + Duration::from_millis(at));
            keep.push(rx);
            q.push(j, 8).unwrap();
        }
        let order: Vec<usize> = (0..4).map(|_| len_ms(&q.pop().unwrap().0)).collect();
        assert_eq!(order, [400, 1200, 3000, 3500]);
    }

    #[test]
    fn a_long_utterance_is_not_passed_over_for_longer_than_itself() {
        let q = JobQueue::default();
        let t0 = Instant::now();
        let (long, _a) = job(3000, t0);
        q.push(long, 8).unwrap();
        // Short answers keep arriving; those that arrive more than 3 s after the long one
        // (less their own length) wait for it.
        let (early, _b) = job(500, t0 + Duration::from_millis(2000));
        let (late, _c) = job(500, t0 + Duration::from_millis(2600));
        q.push(late, 8).unwrap();
        q.push(early, 8).unwrap();
        assert_eq!(len_ms(&q.pop().unwrap().0), 500); // due at 2.5 s
        assert_eq!(len_ms(&q.pop().unwrap().0), 3000); // due at 3.0 s
        assert_eq!(len_ms(&q.pop().unwrap().0), 500); // due at 3.1 s
    }

    #[test]
    fn the_queue_is_bounded_and_hung_up_callers_free_their_places() {
        let q = JobQueue::default();
        let t0 = Instant::now();
        let (a, _a) = job(1000, t0);
        let (b, b_rx) = job(1000, t0);
        q.push(a, 2).unwrap();
        let (taken, ticket) = q.pop().unwrap(); // being decoded: still takes a place
        q.push(b, 2).unwrap();
        assert_eq!(q.depth(), 2);
        let (c, _c) = job(1000, t0);
        assert!(matches!(q.push(c, 2), Err(AsrError::Overloaded(2))));
        // B's caller hangs up: its place is free at once, and it is answered Cancelled.
        drop(b_rx);
        let (d, _d) = job(1000, t0);
        q.push(d, 2).unwrap();
        assert_eq!(q.depth(), 2);
        drop(taken);
        q.done(ticket);
        assert_eq!(q.depth(), 1);
        let cancelled = CancellationToken::new();
        let (mut e, mut e_rx) = job(200, t0);
        e.cancel = Some(cancelled.clone());
        q.push(e, 3).unwrap();
        cancelled.cancel();
        // The worker never gets the cancelled job; its caller gets Cancelled.
        assert_eq!(len_ms(&q.pop().unwrap().0), 1000);
        assert!(matches!(e_rx.try_recv(), Ok(Err(AsrError::Cancelled))));
        q.close();
        assert!(q.pop().is_none());
        let (f, _f) = job(100, t0);
        assert!(matches!(q.push(f, 8), Err(AsrError::Stopped)));
    }

    fn early(
        ms: usize,
    ) -> (
        Job,
        oneshot::Receiver<Result<AsrOutcome, AsrError>>,
        CancellationToken,
    ) {
        let (mut j, rx) = job(ms, Instant::now());
        let token = CancellationToken::new();
        j.early = true;
        j.cancel = Some(token.clone());
        (j, rx, token)
    }

    #[test]
    fn early_recognition_takes_only_an_idle_worker_and_yields_to_a_closed_utterance() {
        let q = JobQueue::new(1);
        // The worker is idle: an early job is taken.
        let (e, _e_rx, e_token) = early(1500);
        q.push(e, 8).unwrap();
        let (taken, ticket) = q.pop().unwrap();
        assert!(taken.early);
        // Another caller's pause while it decodes: refused, no worker is idle.
        let (e2, _e2_rx, _t2) = early(800);
        assert!(matches!(q.push(e2, 8), Err(AsrError::Overloaded(1))));
        // A closed utterance arrives: the early decode is told to stop, the utterance waits
        // only for that.
        assert!(!e_token.is_cancelled());
        let (closed, _c_rx) = job(2000, Instant::now());
        q.push(closed, 8).unwrap();
        assert!(e_token.is_cancelled());
        q.done(ticket);
        let (next, t2) = q.pop().unwrap();
        assert!(!next.early);
        // With a closed utterance decoding and none waiting, a second one does not stop
        // anything (there is no early job), and an early job still waits for an idle worker.
        let (e3, _e3_rx, e3_token) = early(500);
        assert!(q.push(e3, 8).is_err());
        assert!(!e3_token.is_cancelled());
        q.done(t2);
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn early_jobs_come_after_closed_utterances() {
        let q = JobQueue::new(2);
        let (e, _e_rx, _t) = early(300);
        q.push(e, 8).unwrap();
        let (c, _c_rx) = job(3000, Instant::now());
        q.push(c, 8).unwrap();
        assert!(!q.pop().unwrap().0.early, "the closed utterance first");
        assert!(q.pop().unwrap().0.early);
    }
}
