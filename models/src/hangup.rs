//! The catalogue of hangup causes: one stable code per way a call can end, stored in the
//! CDR's `hangup_cause` column, shown in the API and explained to admins in
//! `docs/hangup-causes.md` (a test keeps that page complete).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a call ended. [`HangupCause::code`] is the stable string stored and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String")]
pub enum HangupCause {
    /// The caller hung up (BYE from the caller).
    CallerBye,
    /// The robot finished and hung up (our BYE).
    RobotBye,
    /// The caller gave up before answer (CANCEL, RFC 3261 §9).
    Cancel,
    /// We declined the call.
    Rejected,
    /// No ACK for our 200 OK, or another SIP timeout (RFC 3261 §13.3.1.4).
    Timeout,
    /// The dialplan has no route for the dialled number (404).
    NoRoute,
    /// The INVITE had no SDP offer (versions before late offer was supported; kept for
    /// their CDRs).
    NoOffer,
    /// Late offer failed: the INVITE had no SDP, we offered in the 200 OK, and the ACK
    /// brought no acceptable answer (none, malformed, or no codec we offered), so we hung
    /// up with BYE (RFC 3261 §13.2.1, RFC 3264 §5).
    NoAnswerInAck,
    /// The SDP offer was malformed (400).
    BadSdp,
    /// No free RTP port (503).
    NoRtpPort,
    /// The SIP side of the call vanished without a final signal.
    SignallingLost,
    /// The media task stopped.
    MediaLost,
    /// A prompt could not be synthesised or read.
    PromptError,
    /// The dialplan chose a flow this engine cannot run.
    UnsupportedFlow,
    /// Ended by a SIP status (488 no common codec, 503, …).
    Sip(u16),
    /// zvonar was stopped (SIGTERM) and the call outlasted the drain time: we sent BYE.
    Shutdown,
    /// The party the caller was connected to (an operator, the far leg of a `dial` flow)
    /// hung up; we sent BYE to the caller.
    PartyBye,
    /// The caller (an agent consulting a colleague) joined the party to another call: an
    /// attended transfer (RFC 5589 §7, `Replaces` of RFC 3891); the party talks on in that
    /// call, and we sent BYE to the agent's consultation leg.
    Transferred,
}

impl HangupCause {
    /// Every cause, for the catalogue (`Sip` shown with 488 as its example).
    pub const ALL: [HangupCause; 18] = [
        HangupCause::CallerBye,
        HangupCause::RobotBye,
        HangupCause::Cancel,
        HangupCause::Rejected,
        HangupCause::Timeout,
        HangupCause::NoRoute,
        HangupCause::NoOffer,
        HangupCause::NoAnswerInAck,
        HangupCause::BadSdp,
        HangupCause::NoRtpPort,
        HangupCause::SignallingLost,
        HangupCause::MediaLost,
        HangupCause::PromptError,
        HangupCause::UnsupportedFlow,
        HangupCause::Sip(488),
        HangupCause::Shutdown,
        HangupCause::PartyBye,
        HangupCause::Transferred,
    ];

    /// The stable code: `caller_bye`, `robot_bye`, `cancel`, …, `sip_488`.
    pub fn code(self) -> String {
        let s = match self {
            HangupCause::CallerBye => "caller_bye",
            HangupCause::RobotBye => "robot_bye",
            HangupCause::Cancel => "cancel",
            HangupCause::Rejected => "rejected",
            HangupCause::Timeout => "timeout",
            HangupCause::NoRoute => "no_route",
            HangupCause::NoOffer => "no_offer",
            HangupCause::NoAnswerInAck => "no_answer_in_ack",
            HangupCause::BadSdp => "bad_sdp",
            HangupCause::NoRtpPort => "no_rtp_port",
            HangupCause::SignallingLost => "signalling_lost",
            HangupCause::MediaLost => "media_lost",
            HangupCause::PromptError => "prompt_error",
            HangupCause::UnsupportedFlow => "unsupported_flow",
            HangupCause::Shutdown => "shutdown",
            HangupCause::PartyBye => "party_bye",
            HangupCause::Transferred => "transferred",
            HangupCause::Sip(status) => return format!("sip_{status}"),
        };
        s.to_string()
    }
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

impl From<HangupCause> for String {
    fn from(c: HangupCause) -> String {
        c.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let doc = include_str!("../../docs/hangup-causes.md");
        let mut seen = std::collections::HashSet::new();
        for c in HangupCause::ALL {
            let code = c.code();
            assert!(seen.insert(code.clone()), "duplicate {code}");
            let code = if code.starts_with("sip_") {
                "sip_NNN".to_string()
            } else {
                code
            };
            assert!(
                doc.contains(&format!("`{code}`")),
                "docs/hangup-causes.md lacks `{code}`"
            );
        }
    }
}
