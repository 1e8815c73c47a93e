//! Answers a new offer inside an established call (re-INVITE or UPDATE, RFC 3264 §8),
//! e.g. a phone putting the call on hold or a trunk refreshing the session.

use super::Shared;
use zvonar_sip::sdp::{negotiate_answer, LocalMedia, SessionDescription};
use zvonar_sip::ua::Responder;

/// Answers `sdp` with our media on `local_port`: 200 with an SDP answer, 488 when nothing
/// is acceptable, 400 when the SDP is malformed. An offerless re-INVITE gets our offer.
pub async fn answer(shared: &Shared, local_port: u16, sdp: &str, responder: Responder) {
    let local = LocalMedia::new(shared.public_ip, local_port);
    if sdp.trim().is_empty() {
        let offer = zvonar_sip::sdp::create_offer(&local);
        responder
            .respond(
                200,
                Some(("application/sdp".into(), offer.to_string().into_bytes())),
            )
            .await;
        return;
    }
    let offer = match SessionDescription::parse(sdp) {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(error = %e, "malformed SDP in re-INVITE");
            responder.respond(400, None).await;
            return;
        }
    };
    match negotiate_answer(&offer, &local) {
        Ok(n) => {
            responder
                .respond(
                    200,
                    Some(("application/sdp".into(), n.answer.to_string().into_bytes())),
                )
                .await
        }
        Err(e) => responder.respond(e.sip_status(), None).await,
    }
}
