//! The SDP offer/answer state of one call (RFC 3264), sans-IO: the answer to the INVITE's
//! offer or — for an INVITE without one — our offer in the 200 OK and the caller's answer in
//! the ACK (late offer, RFC 3261 §13.2.1, RFC 3264 §5); later offers in re-INVITEs and
//! UPDATEs (RFC 3264 §8: hold, resume, a new address, port or codec) and what each exchange
//! changes for the media ([`MediaState`], applied by the media task).
//!
//! One [`MediaSession`] per call, so every SDP we send in the dialog carries the same `o=`
//! line, its version incremented by one exactly when our description changed (RFC 3264 §8).
//!
//! ```text
//! INVITE+offer ─► CallSdp::answer ─► 200+answer            (media from the offer)
//! INVITE       ─► CallSdp::late_offer ─► 200+offer ─► ACK+answer ─► CallSdp::on_ack
//! re-INVITE/UPDATE+offer ─► CallSdp::on_offer ─► 200+answer (or 488/400/491)
//! re-INVITE without SDP  ─► CallSdp::on_offer ─► 200+offer ─► ACK+answer ─► CallSdp::on_ack
//! ```

use std::net::SocketAddr;
use zvonar_sip::sdp::{LocalMedia, MediaSession, Negotiated, SessionDescription};
use zvonar_voice::codec::Codec;

/// What the media of a call must use after an offer/answer exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaState {
    /// Where the peer's SDP says to send RTP (`0.0.0.0` for RFC 2543 hold).
    pub remote: SocketAddr,
    /// The audio codec both sides use.
    pub codec: Codec,
    /// RTP payload type of the audio codec (static 0/8 or the offerer's dynamic number).
    pub audio_pt: u8,
    /// RTP payload type of RFC 4733 telephone-event, when both sides have it.
    pub te_pt: Option<u8>,
    /// Whether we send RTP: our direction sends (the peer did not put us on hold with
    /// `sendonly`/`inactive`) and the remote address is usable (RFC 3264 §6.1, §8.4).
    pub send: bool,
}

impl From<&Negotiated> for MediaState {
    fn from(n: &Negotiated) -> Self {
        MediaState {
            remote: n.remote_rtp,
            codec: match n.codec {
                zvonar_sip::sdp::Codec::Pcmu => Codec::Pcmu,
                zvonar_sip::sdp::Codec::Pcma => Codec::Pcma,
            },
            audio_pt: n.payload_type,
            te_pt: n.telephone_event_pt,
            send: n.may_send(),
        }
    }
}

/// Why the offer of an INVITE was refused: the SIP status to reject it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// The SDP does not parse (400).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Nothing acceptable in it: no audio, no PCMA/PCMU, secure profile only (488), or our
    /// configuration is unusable (500).
    #[error("{reason}")]
    NotAcceptable {
        /// The status to answer with.
        status: u16,
        /// What was wrong.
        reason: String,
    },
}

impl OfferError {
    /// The SIP status to answer the offer with.
    pub fn sip_status(&self) -> u16 {
        match self {
            OfferError::Malformed(_) => 400,
            OfferError::NotAcceptable { status, .. } => *status,
        }
    }
}

/// The reply to an offer inside the call (re-INVITE or UPDATE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferReply {
    /// SIP status: 200, or 400 malformed, 488 not acceptable (the session goes on unchanged,
    /// RFC 3261 §14.2), 491 while an offer of ours awaits its answer (RFC 3261 §14.2).
    pub status: u16,
    /// The `application/sdp` body of a 200: our answer, or our offer for a re-INVITE without
    /// one (its answer comes in the ACK); `None` for an UPDATE refresh without SDP.
    pub sdp: Option<String>,
    /// New media to apply now, when the answer changes it.
    pub media: Option<MediaState>,
}

/// What an ACK meant for the offer/answer state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// No offer of ours awaited this ACK (an ACK of an answered INVITE, or a repeat).
    NotAwaited,
    /// It carried an acceptable answer to our offer: use this media.
    Answered(MediaState),
    /// It should have carried the answer to our offer, but had none, or one we cannot use.
    /// After an INVITE without SDP the call must end with BYE (RFC 3261 §13.2.1).
    NoAcceptableAnswer(String),
}

/// The offer/answer state of one call; see the module docs.
#[derive(Debug, Clone)]
pub struct CallSdp {
    session: MediaSession,
    /// CSeq of the INVITE or re-INVITE whose 2xx carried our offer, until its ACK arrives.
    awaiting_ack: Option<u32>,
    /// The media in use, after the first complete exchange.
    current: Option<MediaState>,
}

impl CallSdp {
    /// A call whose SDP goes out with `local` (our address, RTP port, codecs, `o=` id).
    pub fn new(local: LocalMedia) -> Self {
        CallSdp {
            session: MediaSession::new(local),
            awaiting_ack: None,
            current: None,
        }
    }

    /// Answers the offer of the INVITE. Returns our SDP answer for the 200 and the media.
    ///
    /// Errors: [`OfferError`] with the status to reject the INVITE with.
    pub fn answer(&mut self, offer: &str) -> Result<(String, MediaState), OfferError> {
        let offer =
            SessionDescription::parse(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;
        let n = self
            .session
            .answer(&offer)
            .map_err(|e| OfferError::NotAcceptable {
                status: e.sip_status(),
                reason: e.to_string(),
            })?;
        let media = MediaState::from(&n);
        self.current = Some(media.clone());
        Ok((n.answer.to_string(), media))
    }

    /// Our offer for the 200 OK to an INVITE without SDP whose CSeq number is
    /// `invite_cseq`: PCMA, PCMU and telephone-event (RFC 3264 §5). Its ACK must carry the
    /// answer ([`CallSdp::on_ack`]).
    pub fn late_offer(&mut self, invite_cseq: u32) -> String {
        self.awaiting_ack = Some(invite_cseq);
        self.session.offer().to_string()
    }

    /// Our offer for an outgoing INVITE (a B2BUA leg we place, RFC 3264 §5): PCMA, PCMU and
    /// telephone-event, as in [`CallSdp::late_offer`]. The answer comes in the 2xx
    /// ([`CallSdp::on_answer`]).
    pub fn initial_offer(&mut self) -> String {
        self.session.offer().to_string()
    }

    /// Takes the answer to [`CallSdp::initial_offer`] from the 2xx of our INVITE and returns
    /// the media it sets up (RFC 3264 §6).
    ///
    /// Errors: a text for the log when the 2xx has no SDP, it is malformed, or it picks
    /// nothing we offered; the leg must then be ended with BYE (RFC 3261 §13.2.1: ACK and
    /// BYE, since a 2xx cannot be refused).
    pub fn on_answer(&mut self, sdp: Option<&str>) -> Result<MediaState, String> {
        let sdp = sdp.ok_or("the 2xx has no SDP answer")?;
        let answer =
            SessionDescription::parse(sdp).map_err(|e| format!("malformed SDP answer: {e}"))?;
        let n = self
            .session
            .accept_answer(&answer)
            .map_err(|e| e.to_string())?;
        let media = MediaState::from(&n);
        self.current = Some(media.clone());
        Ok(media)
    }

    /// Handles a confirmed dialog: the last ACK's CSeq number and SDP body.
    pub fn on_ack(&mut self, ack_cseq: Option<u32>, sdp: Option<&str>) -> AckOutcome {
        let Some(awaited) = self.awaiting_ack else {
            return AckOutcome::NotAwaited;
        };
        if ack_cseq != Some(awaited) {
            return AckOutcome::NotAwaited;
        }
        self.awaiting_ack = None;
        let Some(sdp) = sdp else {
            return AckOutcome::NoAcceptableAnswer("the ACK has no SDP answer".into());
        };
        let answer = match SessionDescription::parse(sdp) {
            Ok(a) => a,
            Err(e) => return AckOutcome::NoAcceptableAnswer(format!("malformed SDP answer: {e}")),
        };
        match self.session.accept_answer(&answer) {
            Ok(n) => {
                let media = MediaState::from(&n);
                self.current = Some(media.clone());
                AckOutcome::Answered(media)
            }
            Err(e) => AckOutcome::NoAcceptableAnswer(e.to_string()),
        }
    }

    /// Handles an offer inside the call: `sdp` of the re-INVITE (`reinvite`) or UPDATE with
    /// CSeq number `cseq`, empty when it has none.
    pub fn on_offer(&mut self, sdp: &str, cseq: u32, reinvite: bool) -> OfferReply {
        if self.awaiting_ack.is_some() {
            // Our offer is still waiting for its answer (RFC 3261 §14.2, RFC 3311 §5.2).
            return OfferReply {
                status: 491,
                sdp: None,
                media: None,
            };
        }
        if sdp.trim().is_empty() {
            if !reinvite {
                // An UPDATE without SDP only refreshes the session (RFC 3311 §5.2).
                return OfferReply {
                    status: 200,
                    sdp: None,
                    media: None,
                };
            }
            // A re-INVITE without an offer: ours goes in the 200, the answer in the ACK.
            return OfferReply {
                status: 200,
                sdp: Some(self.late_offer(cseq)),
                media: None,
            };
        }
        let offer = match SessionDescription::parse(sdp) {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(error = %e, "malformed SDP in a re-offer");
                return OfferReply {
                    status: 400,
                    sdp: None,
                    media: None,
                };
            }
        };
        match self.session.answer(&offer) {
            Ok(n) => {
                let media = MediaState::from(&n);
                let changed = self.current.as_ref() != Some(&media);
                self.current = Some(media.clone());
                OfferReply {
                    status: 200,
                    sdp: Some(n.answer.to_string()),
                    media: changed.then_some(media),
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "re-offer not acceptable; the session goes on");
                OfferReply {
                    status: e.sip_status(),
                    sdp: None,
                    media: None,
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "reoffer_tests.rs"]
mod tests;
