//! Call slots: how many calls the engine handles at once, and the drain at shutdown.
//!
//! A slot is taken when a call is accepted and given back when its [`SlotGuard`] is
//! dropped — also when the call task panics or is aborted, so a crashing call can never
//! leave the engine refusing every later call with 503.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The engine's call slots: at most `max` calls at once; while draining, none new.
#[derive(Debug)]
pub struct CallSlots {
    active: AtomicUsize,
    max: usize,
    draining: AtomicBool,
    released: Notify,
}

/// Why [`CallSlots::acquire`] gave no slot; both are answered with 503 (RFC 3261 §21.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSlot {
    /// All `max_calls` slots are taken.
    Full,
    /// The engine is shutting down and takes no new calls.
    Draining,
}

/// One taken slot; dropping it gives the slot back (RAII), whatever ended the call.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the guard is dropped"]
pub struct SlotGuard {
    slots: Arc<CallSlots>,
}

impl CallSlots {
    /// `max` calls at once (0 refuses every call).
    pub fn new(max: usize) -> Arc<CallSlots> {
        Arc::new(CallSlots {
            active: AtomicUsize::new(0),
            max,
            draining: AtomicBool::new(false),
            released: Notify::new(),
        })
    }

    /// Takes a slot for one call. Errors: [`NoSlot::Full`] when `max` calls are active,
    /// [`NoSlot::Draining`] after [`CallSlots::drain`].
    pub fn acquire(self: &Arc<Self>) -> Result<SlotGuard, NoSlot> {
        if self.draining.load(Ordering::Acquire) {
            return Err(NoSlot::Draining);
        }
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map_err(|_| NoSlot::Full)?;
        Ok(SlotGuard {
            slots: self.clone(),
        })
    }

    /// Calls holding a slot now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Stops giving out slots (shutdown): every later [`CallSlots::acquire`] fails with
    /// [`NoSlot::Draining`]; calls already running keep theirs.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Waits until no call holds a slot.
    pub async fn idle(&self) {
        loop {
            let released = self.released.notified();
            if self.active() == 0 {
                return;
            }
            released.await;
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.active.fetch_sub(1, Ordering::AcqRel);
        self.slots.released.notify_waiters();
    }
}

/// The SIP stack's admission control ([`zvonar_sip::ua::Admission`]) over the call slots:
/// a new INVITE takes its slot before a dialog exists, so a refusal — all `max_calls` slots
/// taken, or draining at shutdown — is a 503 that can carry `Retry-After` (RFC 3261
/// §21.5.4, §20.33).
#[derive(Debug)]
pub struct SlotAdmission {
    /// The engine's slots.
    pub slots: Arc<CallSlots>,
    /// Retry-After when every slot is taken, s (`[sip] busy_retry_after_s`).
    pub busy_retry_after_s: u32,
    /// Retry-After while draining, s (`[shutdown] retry_after_s`).
    pub drain_retry_after_s: u32,
}

impl zvonar_sip::ua::Admission for SlotAdmission {
    fn admit(&self) -> Result<zvonar_sip::ua::CallPermit, zvonar_sip::ua::Refusal> {
        match self.slots.acquire() {
            Ok(slot) => Ok(Box::new(slot)),
            Err(NoSlot::Full) => Err(zvonar_sip::ua::Refusal {
                retry_after_s: self.busy_retry_after_s,
                reason: "overloaded",
            }),
            Err(NoSlot::Draining) => Err(zvonar_sip::ua::Refusal {
                retry_after_s: self.drain_retry_after_s,
                reason: "shutting down",
            }),
        }
    }
}

/// Runs `call` as its own task holding `slot` until the task ends — normally, by a panic
/// or by being aborted; the slot is given back in every case.
pub fn spawn_with_slot<F>(slot: SlotGuard, call: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let _slot = slot;
        call.await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_call_gives_its_slot_back() {
        let slots = CallSlots::new(2);
        let a = slots.acquire().expect("first slot");
        let b = slots.acquire().expect("second slot");
        assert_eq!(slots.acquire().unwrap_err(), NoSlot::Full);
        let crashed = spawn_with_slot(a, async { panic!("a call task crashes") });
        assert!(crashed.await.unwrap_err().is_panic());
        assert_eq!(slots.active(), 1);
        // A crash used to leak the slot; now the next call is taken.
        let c = slots.acquire().expect("slot given back after the panic");
        assert_eq!(slots.active(), 2);
        drop((b, c));
        assert_eq!(slots.active(), 0);
    }

    #[tokio::test]
    async fn an_aborted_call_gives_its_slot_back() {
        let slots = CallSlots::new(1);
        let g = slots.acquire().expect("slot");
        let task = spawn_with_slot(g, std::future::pending());
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(slots.active(), 0);
    }

    #[test]
    fn admission_refuses_with_the_configured_retry_after() {
        use zvonar_sip::ua::Admission;
        let slots = CallSlots::new(1);
        let admission = SlotAdmission {
            slots: slots.clone(),
            busy_retry_after_s: 7,
            drain_retry_after_s: 60,
        };
        let permit = admission.admit().expect("first call admitted");
        assert!(permit.downcast_ref::<SlotGuard>().is_some());
        let Err(busy) = admission.admit() else {
            panic!("second call admitted beyond max");
        };
        assert_eq!((busy.retry_after_s, busy.reason), (7, "overloaded"));
        drop(permit);
        slots.drain();
        let Err(draining) = admission.admit() else {
            panic!("call admitted while draining");
        };
        assert_eq!(
            (draining.retry_after_s, draining.reason),
            (60, "shutting down")
        );
    }

    #[tokio::test]
    async fn draining_refuses_new_calls_and_waits_for_running_ones() {
        let slots = CallSlots::new(5);
        let g = slots.acquire().expect("slot");
        slots.drain();
        assert_eq!(slots.acquire().unwrap_err(), NoSlot::Draining);
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(g);
        waiter.await.expect("idle after the last call");
    }
}
