//! What the dispatcher robot is given, takes and emits.

use zvonar_models::{
    AccountId, BuildingId, CallEventKind, CallbackRequest, HandoverContext, HandoverReason,
    OutageId, PhoneNumber, PremisesId, TicketRequest,
};
pub use zvonar_models::{Expect, NumberSlot};

/// What the engine knows about a call before the robot starts (from caller ID and the
/// billing/dispatch stores).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallContext {
    /// The caller's number, when the trunk gave one (used on tickets and callbacks).
    pub caller: Option<PhoneNumber>,
    /// The premises registered to the caller's number, when there is exactly one.
    pub known: Option<KnownPremises>,
    /// The company's buildings, in the order the keypad menu offers them (1–9).
    pub buildings: Vec<BuildingInfo>,
}

/// Premises found by caller ID, to be confirmed by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownPremises {
    /// The personal account (ЛС), when one is open on the premises.
    pub account_id: Option<AccountId>,
    /// The premises.
    pub premises_id: PremisesId,
    /// Its building (outages are looked up in [`CallContext::buildings`] by this id).
    pub building_id: BuildingId,
    /// The address as spoken: «улица Ленина, дом 5, квартира 12».
    pub address_spoken: String,
    /// The apartment number as the registry writes it (`12`, `12а`), copied into tickets.
    pub apartment: Option<String>,
}

/// A building served by the company.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildingInfo {
    /// Its id.
    pub id: BuildingId,
    /// Street as written: «улица Ленина», «Садовая ул.», «проспект Мира».
    pub street: String,
    /// House as written: «5», «12а», «5 корпус 2», «5к2», «7/1».
    pub house: String,
    /// The address as spoken in menus: «улица Ленина, дом 5».
    pub spoken: String,
    /// Outages in force on the building now.
    pub outages: Vec<OutageInfo>,
}

/// An outage (отключение) in force on a building.
#[derive(Clone, Debug, PartialEq)]
pub struct OutageInfo {
    /// Its id.
    pub id: OutageId,
    /// What is off, in the genitive case: «горячей воды», «электроэнергии».
    pub what: String,
    /// Since when, human Russian text after «с»: «10 июня».
    pub since: String,
    /// Until when, human Russian text after «до»: «18 часов 14 июня».
    pub until: String,
}

/// The answer to [`RobotOutput::LookupPremises`].
#[derive(Clone, Debug, PartialEq)]
pub struct FoundPremises {
    /// The premises.
    pub premises_id: PremisesId,
    /// Its open personal account, if any.
    pub account_id: Option<AccountId>,
}

/// What the engine tells the robot.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RobotInput {
    /// The call is answered: begin (greeting).
    Start,
    /// The caller said something (ASR result of one [`RobotOutput::Listen`]).
    Utterance {
        /// Recognised text, as Whisper wrote it.
        text: String,
        /// Mean token probability, 0..=1.
        confidence: f32,
    },
    /// The caller started speaking (VAD), possibly over a prompt: barge-in.
    SpeechStarted,
    /// One key pressed (an RFC 4733 telephone-event or a SIP INFO `Signal=`): `0`–`9`, `*`
    /// or `#`; the engine sends each key as it arrives, one input per key.
    ///
    /// The robot collects the keys of one answer itself. A question with a one-key answer
    /// (yes/no, menus) reacts to the key at once. A multi-key answer (the apartment) ends
    /// with `#`, with the question's last allowed digit, or when no key follows for
    /// `inter_digit_ms` ([`RobotOutput::StartDigitTimer`] → [`RobotInput::DigitTimeout`]);
    /// `*` clears what was typed and asks again; `0` as the first key asks for a person.
    Key(char),
    /// The timer of the last [`RobotOutput::StartDigitTimer`] expired (no key since).
    DigitTimeout,
    /// The listen timer (`no_input_ms` after the prompts ended) expired with no speech
    /// and no keys.
    NoInput,
    /// One [`RobotOutput::Say`] / [`RobotOutput::Play`] finished playing (one per prompt,
    /// in order; none for prompts cut by [`RobotOutput::StopPlayback`]).
    PlaybackDone,
    /// Answer to [`RobotOutput::LoadApartments`] (always sent, at once): the apartments of the
    /// building as the registry writes them (`12`, `12а`), or `None` when the registry could
    /// not be read — the robot then takes an apartment without checking it.
    Apartments {
        /// The building asked for.
        building_id: BuildingId,
        /// Its apartments (empty: the registry knows none, and nothing is checked).
        apartments: Option<Vec<String>>,
    },
    /// Answer to [`RobotOutput::LookupPremises`]: `None` when no such apartment is known.
    PremisesFound(Option<FoundPremises>),
    /// Answer to [`RobotOutput::CreateTicket`] (not sent for unfinished requests): the
    /// human-facing ticket number.
    TicketCreated {
        /// Ticket number as the resident will quote it (`1234`).
        number: String,
    },
    /// Answer to [`RobotOutput::CreateTicket`] when the ticket could not be stored in time
    /// (the database failed or was busy past the engine's deadline): there is no number.
    TicketNotFiled,
    /// Answer to [`RobotOutput::RequestCallback`]: the callback is recorded.
    CallbackRecorded,
    /// The caller's speech, heard while the robot listened, could not be recognised: the
    /// recogniser is overloaded (its queue is full) or failed. The robot says so (prompt
    /// `keypad_fallback`) and asks the question again as a keypad menu, and every later
    /// question too; a second time in a call counts as an answer not understood.
    RecognitionUnavailable,
    /// Answer to [`RobotOutput::HandOver`]: the queue could not give the caller a person
    /// (it overflowed: maximum wait, or nobody logged in). The robot takes a callback request
    /// (prompts `no_operators`, then `callback_recorded`).
    OperatorUnavailable,
    /// Answer to [`RobotOutput::HandOver`]: an operator answered; the robot is done (outcome
    /// `handed_over`, no hangup: the call goes on with the operator).
    OperatorAnswered,
    /// The caller hung up (BYE). The robot emits nothing after this except the outcome and
    /// an unfinished ticket.
    CallerHangup,
    /// zvonar is shutting down and the drain time after SIGTERM is over: the engine ends
    /// the call itself (BYE). Like [`RobotInput::CallerHangup`], what was heard so far is
    /// filed as an unfinished request, so no caller's request is lost to a restart; the
    /// outcome is `shutdown` when nothing was collected.
    Shutdown,
}

/// What the robot asks the engine to do, drained with `poll_output`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RobotOutput {
    /// Synthesise and play Russian text. Prompts queue: play them in order, report each
    /// with [`RobotInput::PlaybackDone`].
    Say {
        /// The text.
        text: String,
        /// The caller may interrupt it (speech or keys): stop on barge-in.
        barge_in: bool,
    },
    /// Play a recorded prompt (configured as `{ file = "…" }`), like `Say`.
    Play {
        /// Path as configured.
        file: String,
        /// The caller may interrupt it.
        barge_in: bool,
    },
    /// Stop the prompt playing now and drop queued ones (barge-in); no `PlaybackDone`
    /// is expected for them.
    StopPlayback,
    /// Listen for one answer: speech (→ `Utterance`) or keys (→ `Key`, one per key), or
    /// `NoInput`. Listening starts when the queued prompts end, or at once for barge-in
    /// prompts; the no-input timer starts when the prompts end and stops at the first key
    /// or speech.
    Listen {
        /// No speech or key for this long after the prompts → `NoInput`, ms.
        no_input_ms: u32,
        /// The caller's speech is cut at this length and recognised as it is (the engine
        /// sets its voice activity detector's longest utterance to this), ms.
        max_ms: u32,
        /// What answer the question expects (a number, yes/no, free speech): the engine
        /// passes it with the utterance to the recogniser, which may decode a number
        /// answer differently (slot-aware recognition).
        expect: Expect,
    },
    /// (Re)start the inter-digit timer: send [`RobotInput::DigitTimeout`] after `ms` unless
    /// another `StartDigitTimer` or a `CancelDigitTimer` comes first. Only one such timer
    /// exists per call.
    StartDigitTimer {
        /// Time from now, ms.
        ms: u32,
    },
    /// Stop the inter-digit timer (the keyed answer is complete or was replaced).
    CancelDigitTimer,
    /// Load the apartments of the building the caller named, to check the apartment they
    /// will say against the registry; answer with [`RobotInput::Apartments`] (the robot waits
    /// for it before it asks for the apartment).
    LoadApartments {
        /// The building.
        building_id: BuildingId,
    },
    /// Look up the premises by building and apartment; answer with `PremisesFound`.
    LookupPremises {
        /// The building.
        building_id: BuildingId,
        /// Apartment as said: `12`, `12а`.
        apartment: String,
    },
    /// Publish a call event (`Identified`, `SlotFilled`, `OutageAnnounced`, `Outcome`).
    Event(CallEventKind),
    /// File a ticket; answer with `TicketCreated` unless `unfinished` is set.
    CreateTicket(TicketRequest),
    /// Record a callback request; answer with `CallbackRecorded`.
    RequestCallback(CallbackRequest),
    /// Pass the call to a person: put it into the operator queue flow `flow` once the
    /// prompts queued before it have played, with what the robot knows; answer with
    /// [`RobotInput::OperatorAnswered`] or [`RobotInput::OperatorUnavailable`].
    HandOver(Box<Handover>),
    /// Hang up (BYE). Comes after the last prompt's `PlaybackDone`.
    Hangup,
}

/// The robot → operator handover ([`RobotOutput::HandOver`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Handover {
    /// The `kind = "queue"` flow (the dispatcher's `operator_flow`).
    pub flow: String,
    /// Why.
    pub reason: HandoverReason,
    /// An emergency request: it waits ahead of the others.
    pub emergency: bool,
    /// The request's topic code when one was classified (for the `skills` strategy).
    pub topic: Option<String>,
    /// What the robot knows, for the operator's card.
    pub context: HandoverContext,
}

/// Where the robot is: each state is named for what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Waiting for [`RobotInput::Start`].
    AwaitingStart,
    /// Asked «Вы звоните по адресу …?»; waits for yes/no.
    AwaitingAddressConfirmation,
    /// Asked for street and house (or offered the keypad menu).
    AwaitingBuilding,
    /// Sent `LoadApartments` for the building just chosen; waits for `Apartments`.
    AwaitingApartmentList,
    /// Asked for the apartment number.
    AwaitingApartment,
    /// Read an apartment back («Квартира сто семьдесят девять, верно?»); waits for yes/no
    /// (or keys 1/2).
    AwaitingApartmentConfirmation,
    /// Sent `LookupPremises`; waits for `PremisesFound`.
    AwaitingPremisesLookup,
    /// Announced outage number `index` of the building; waits for «is this why you call?».
    AwaitingOutageAnswer {
        /// Index into the building's outages.
        index: usize,
    },
    /// Asked to describe the problem.
    AwaitingProblem,
    /// Sent `CreateTicket`; waits for `TicketCreated`.
    AwaitingTicket,
    /// Sent `RequestCallback`; waits for `CallbackRecorded`.
    AwaitingCallbackRecorded,
    /// Sent `HandOver`; waits for `OperatorAnswered` or `OperatorUnavailable`.
    AwaitingOperator,
    /// Saying the last words; hangs up after their `PlaybackDone`.
    Closing,
    /// Done: nothing more will be emitted.
    Finished,
}

/// How a robot call ended: the stable codes of `CallEventKind::Outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A ticket was filed and its number read out.
    TicketCreated,
    /// The caller called about an announced outage; a linked ticket was filed.
    OutageLinked,
    /// The caller asked for a person; a callback was requested.
    CallbackRequested,
    /// Nothing was heard (twice) and nothing was collected.
    Silence,
    /// The call ended before the request was complete; an unfinished ticket was filed.
    Unfinished,
    /// The problem could not be understood (even by keypad) and nothing was collected.
    NotUnderstood,
    /// The caller hung up before anything was filed.
    CallerHangup,
    /// The request was complete but the ticket could not be stored; the caller was told so.
    TicketNotFiled,
    /// zvonar ended the call at shutdown (drain time over) before anything was filed.
    Shutdown,
    /// The call was passed to an operator who answered it.
    HandedOver,
}

impl Outcome {
    /// The stable snake_case code (`ticket_created`, …) used in events, CDR and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::TicketCreated => "ticket_created",
            Outcome::OutageLinked => "outage_linked",
            Outcome::CallbackRequested => "callback_requested",
            Outcome::Silence => "silence",
            Outcome::Unfinished => "unfinished",
            Outcome::NotUnderstood => "not_understood",
            Outcome::CallerHangup => "caller_hangup",
            Outcome::TicketNotFiled => "ticket_not_filed",
            Outcome::Shutdown => "shutdown",
            Outcome::HandedOver => "handed_over",
        }
    }
}
