//! Attended transfer (RFC 5589 §7): an agent talking to a caller puts the caller on hold,
//! calls a colleague (a consultation call: the console's second call, or a desk phone's),
//! talks, and then joins the two. The agent's phone sends REFER on the caller's call with
//! `Refer-To: <sip:colleague?Replaces=consultation's dialog>` (RFC 3891). zvonar is the B2BUA
//! on both calls, so nothing is re-dialled: the colleague's leg is taken out of the
//! consultation call and bridged to the caller's media.
//!
//! ```text
//! caller ══ zvonar ══ agent (call 1, on hold)        agent ══ zvonar ══ colleague (call 2)
//!                        REFER on call 1, Replaces = call 2's dialog (zvonar's side of it)
//! SipLines::refer ─ Consultations::find(Replaces) ─► TransferTarget::Consulted
//! caller's task ─ Consultation::take ─► call 2's task (dial flow): unbridge, hand over the
//!                 colleague's OutboundLeg, BYE to the agent, CDR cause `transferred`
//! caller's task ─ bridge(caller, colleague's leg), NOTIFY 200 ─► the agent's call 1 ends
//! ```
//!
//! A consultation is offered for handing over from the moment its far party is rung (a
//! `dial` flow, which is what an agent's own call runs:
//! [`super::transfer::agent_call_flow`]) until that leg ends: an agent may join the caller
//! while the colleague still rings, and the caller then hears the ringing. The recording of call 1 goes on with the
//! colleague on the right channel; call 2's recording ends at the hand-over.

use super::dial::OutboundLeg;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use zvonar_models::CallId;
use zvonar_sip::refer::Replaces;

/// A request for the far party's leg, sent to the consultation call's task.
pub struct Claim {
    /// zvonar's id of the call the party goes to (for the consultation call's timeline).
    pub to_call: CallId,
    /// Where the leg goes; dropped unanswered when the consultation ended meanwhile.
    pub reply: oneshot::Sender<HandedOver>,
}

/// The far party's leg as a consultation hands it over.
pub struct HandedOver {
    /// The outgoing leg to the party.
    pub leg: OutboundLeg,
    /// Whether the party has answered; `false`: it still rings (the agent joined the caller
    /// before the colleague picked up, a "semi-attended" transfer), and the caller hears the
    /// ringing from now on.
    pub answered: bool,
}

struct Entry {
    /// The consultation call's SIP leg (its dialog identifies it for `Replaces`).
    leg: zvonar_sip::ua::Leg,
    call_id: CallId,
    party: String,
    claims: mpsc::UnboundedSender<Claim>,
    /// Tells this entry from a later one of the same call (a party bridged again).
    serial: u64,
}

/// The consultation calls that can be handed over now, by zvonar's call id. Shared by the
/// engine ([`super::Shared::consultations`]).
#[derive(Default)]
pub struct Consultations {
    entries: Mutex<(u64, HashMap<CallId, Entry>)>,
}

impl Consultations {
    /// Offers the conversation of call `call_id` (SIP leg `leg`) with `party` (the far leg's
    /// party, e.g. `account:102`) for hand-over. Claims arrive on the receiver; the offer is
    /// withdrawn when the returned guard is dropped.
    pub fn offer(
        self: &Arc<Self>,
        call_id: &CallId,
        leg: &zvonar_sip::ua::Leg,
        party: &str,
    ) -> (Offered, mpsc::UnboundedReceiver<Claim>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.0 += 1;
        let serial = e.0;
        e.1.insert(
            call_id.clone(),
            Entry {
                leg: leg.clone(),
                call_id: call_id.clone(),
                party: party.to_string(),
                claims: tx,
                serial,
            },
        );
        let guard = Offered {
            owner: self.clone(),
            call_id: call_id.clone(),
            serial,
        };
        (guard, rx)
    }

    /// The consultation whose SIP dialog `r` names (Call-ID and both tags, RFC 3891 §3), if
    /// one is offered now.
    pub fn find(&self, r: &Replaces) -> Option<Consultation> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.1.values()
            .find(|x| x.leg.is_named_by(r))
            .map(|x| Consultation {
                call_id: x.call_id.clone(),
                party: x.party.clone(),
                claims: x.claims.clone(),
            })
    }
}

/// Withdraws an offer when dropped ([`Consultations::offer`]).
pub struct Offered {
    owner: Arc<Consultations>,
    call_id: CallId,
    serial: u64,
}

impl Drop for Offered {
    fn drop(&mut self) {
        let mut e = self.owner.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.1.get(&self.call_id).map(|x| x.serial) == Some(self.serial) {
            e.1.remove(&self.call_id);
        }
    }
}

/// A consultation call found by its dialog: the handle an attended transfer carries to the
/// caller's task. Two are equal when they reach the same call's task.
#[derive(Clone)]
pub struct Consultation {
    /// zvonar's id of the consultation call.
    pub call_id: CallId,
    /// Its far party (`account:102`, `number:+74951234567`).
    pub party: String,
    claims: mpsc::UnboundedSender<Claim>,
}

impl Consultation {
    /// Takes the far party's leg (answered or still ringing) out of the consultation call for
    /// the call `to_call`: `None` when the consultation has ended meanwhile (either side hung
    /// up, or the party refused).
    pub async fn take(&self, to_call: &CallId) -> Option<HandedOver> {
        let (reply, answer) = oneshot::channel();
        self.claims
            .send(Claim {
                to_call: to_call.clone(),
                reply,
            })
            .ok()?;
        answer.await.ok()
    }
}

impl fmt::Debug for Consultation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consultation")
            .field("call_id", &self.call_id)
            .field("party", &self.party)
            .finish()
    }
}

impl PartialEq for Consultation {
    fn eq(&self, other: &Self) -> bool {
        self.claims.same_channel(&other.claims)
    }
}

impl Eq for Consultation {}

/// Waits for the next claim when `claims` is offered; never resolves otherwise (for
/// `select!` arms of a conversation that is not offered yet).
pub async fn next_claim(claims: &mut Option<mpsc::UnboundedReceiver<Claim>>) -> Claim {
    match claims {
        Some(rx) => match rx.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
