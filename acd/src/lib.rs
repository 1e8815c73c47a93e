#![cfg_attr(test, allow(clippy::unwrap_used))]
//! zvonar queues (ACD, automatic call distribution): which operator a waiting caller rings, and
//! what the caller hears meanwhile. A sans-IO state machine ([`Acd`]): it owns no socket, no
//! task and no clock. The engine (SIP, WebRTC console legs) feeds it one [`Input`] at a time
//! with the time it happened, and carries out the [`Command`]s it emits; the queue log
//! ([`Record`]) feeds the monitor and the KPIs ([`kpi`]).
//!
//! ```text
//! loop {
//!     acd.handle(now_ms, input)?;            // or acd.handle_timeout(now_ms) at acd.poll_timeout()
//!     while let Some(cmd) = acd.poll_command() { engine.execute(cmd) }   // Offer, StopRinging, Bridge, …
//!     while let Some(rec) = acd.poll_record() { log.push(rec) }
//! }
//! ```
//!
//! Queues are declared in the dialplan (`[[queue]]`, see zvonar-dialplan); an agent's state is
//! one across all queues (a wrap-up in one queue holds the agent for every queue).
//!
//! # Agent states
//!
//! ```text
//!              AgentLogin                    Offer (dispatch)
//!  LoggedOut ─────────────► Available ───────────────────────► Ringing
//!      ▲                      ▲  ▲  │ AgentPause                 │ │ │
//!      │ AgentLogout          │  │  ▼                            │ │ │ OfferAnswered
//!      │ (after the call      │  │ Paused(reason) ◄── rang out ──┘ │ ▼
//!      │  when on one)        │  │  │ AgentResume   (no_answer)    │ OnCall ──┐ EndpointLost:
//!      │                      │  └──┘                              │   │      │ call re-queued
//!      │                      │ caller hung up, other agent        │   │ CallEnded / CallerHungUp
//!      │                      │ answered, declined, overflow ──────┘   │ / CallTransferred
//!      │                      │                                        ▼
//!      │                      └──────── wrap_up_s elapsed ────────── WrapUp
//!      │                                (or Paused when a pause was asked during the call)
//!      │
//!      │  EndpointLost (any logged-in state)                AgentLogin within the grace:
//!      └──────────────── Disconnected ──────────────────►  back to Available / Paused(reason) / WrapUp
//!        reconnect_grace_s                                  (state and pause reason survive a refresh)
//! ```
//!
//! An agent's **own call** (click-to-call from the console, dialling out from a desk phone:
//! [`Input::OwnCallStarted`] when it is placed, [`Input::OwnCallEnded`] when it ends) is shown
//! as on a call and keeps the agent from every queue's offers, ringing included (an offer
//! ringing then is withdrawn); after it, wrap-up for the longest `wrap_up_s` of the agent's
//! queues, or straight back to a pause the agent was on (reason kept). It does not log a
//! logged-out agent in, and it is not a queue call: no `Answered`/`TalkEnded` in the log.
//!
//! A call is **waiting** (maybe ringing one agent, or every available member with `ring_all`)
//! until an agent answers (**connected**), the caller hangs up (abandoned), or it overflows to
//! the robot (`max_wait_s` from arrival, or at once when no member is logged in and
//! `overflow_when_unstaffed`). Calls are ordered emergencies first, then by arrival; a call
//! whose agent's endpoint vanishes mid-conversation goes back to its original place.
//!
//! # What cannot happen (each has a test)
//!
//! - An agent left ringing: every [`Command::Offer`] is ended by exactly one
//!   [`Command::StopRinging`] or [`Command::Bridge`] for that agent: when another agent answers,
//!   the caller hangs up, the offer rings out, the call overflows, the agent pauses, logs out,
//!   or the endpoint is lost or replaced.
//! - Two agents getting one call: the first [`Input::OfferAnswered`] wins; a later one is answered
//!   with [`Command::RefuseAnswer`].
//! - An offer to an endpoint that is gone: an agent has at most one endpoint; a new registration
//!   replaces the old ([`Command::DropEndpoint`]) and keeps the agent's state; a lost endpoint
//!   takes the agent out of dispatch at once; the old tab closing after a refresh is ignored.
//! - Wrap-up lost after a transfer or bypassed by a second queue: [`Input::CallTransferred`]
//!   starts wrap-up, and the state is one per agent.
//! - A call offered to an agent busy on a call of their own: [`Input::OwnCallStarted`] takes
//!   the agent out of dispatch until [`Input::OwnCallEnded`] and the wrap-up after it.
//! - Positions going backwards: [`Command::Announce`]'s position never exceeds the last one
//!   announced to that call (an emergency that jumps ahead does not raise it; the announced
//!   number holds until the real position falls below it).
//!
//! # Expected wait
//!
//! `EWT = ⌈position × AHT ÷ working⌉` seconds, where `working` is the number of the queue's
//! members available, ringing, on a call or in wrap-up (`None` when zero), and `AHT` the queue's
//! smoothed handle time: it starts at [`machine::INITIAL_TALK_MS`] + `wrap_up_s`, and each call
//! that ends moves it a quarter of the way to that call's talk + `wrap_up_s`
//! (`AHT ← (3·AHT + handle) / 4`, the smoothing Asterisk's `app_queue` uses for its hold time).
//! With `working` agents each freeing up every AHT on average, the caller at `position` is
//! reached after about `position / working` handle times.
//!
//! # Restart
//!
//! [`Acd`] implements `serde::Serialize`/`Deserialize`. Store it after each input; after a
//! restart, load it and send [`Input::CallerHungUp`] for the calls that did not survive (and
//! [`Input::OwnCallEnded`] for the agents' own calls, [`Acd::own_calls`]): agents
//! keep their states, pause reasons and wrap-up deadlines (the clock is wall-clock ms).

pub mod kpi;
pub mod machine;
pub mod types;

pub use machine::{Acd, AcdError, AgentView, CallView};
pub use types::*;
