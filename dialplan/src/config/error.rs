//! The one error of loading a dialplan: [`DialplanError`].

/// Why a dialplan file could not be loaded. Every variant names the file, and all but
/// [`DialplanError::Read`] and [`DialplanError::NoRoutes`] the 1-based line of the
/// offending entry, so the admin can fix it: `deploy/dialplan.toml:12: …`.
///
/// All of these are faults of the file (the admin's), except `Read` (the file system's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialplanError {
    /// The file could not be read.
    #[error("{file}: cannot read the dialplan: {source}")]
    Read {
        /// The path as given.
        file: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The path as given.
        file: String,
        /// 1-based line (1 when the parser gave no position).
        line: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// A route names a flow that has no `[flow.NAME]` table.
    #[error("{file}:{line}: route refers to flow {flow:?}, which is not defined under [flow]")]
    UnknownFlow {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The flow name.
        flow: String,
    },
    /// A route's `number` is neither `*`, an exact number nor a prefix ending in `*`.
    #[error(
        "{file}:{line}: bad number pattern {pattern:?}: use an exact number (+74951234567, 100), \
         a prefix ending in * (74951*) or * for any"
    )]
    BadNumberPattern {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The pattern as written.
        pattern: String,
    },
    /// A route's `time` is not `HH:MM-HH:MM` with valid times (`25:00-26:00`).
    #[error("{file}:{line}: bad time range {value:?}: {reason} (expected HH:MM-HH:MM, e.g. 08:00-20:00)")]
    BadTimeRange {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The range as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A route's `days` is not a list of day names and ranges (`mon-fri`, `sat,sun`).
    #[error("{file}:{line}: bad days {value:?}: expected day names mon…sun, ranges and commas (mon-fri, sat,sun)")]
    BadDays {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The days as written.
        value: String,
    },
    /// An earlier catch-all route (`number = "*"`, no time or days) makes this one dead.
    #[error("{file}:{line}: this route is never used: the route at line {shadowed_by} matches every call first")]
    UnreachableRoute {
        /// The path as given.
        file: String,
        /// 1-based line of the dead route.
        line: usize,
        /// 1-based line of the catch-all route before it.
        shadowed_by: usize,
    },
    /// There is no `[[route]]`: no call would ever be answered.
    #[error("{file}: no [[route]] entries, so no call would match anything")]
    NoRoutes {
        /// The path as given.
        file: String,
    },
    /// A flow's `kind` is not one this version knows.
    #[error("{file}:{line}: flow {flow:?} has unknown kind {kind:?} (expected dispatcher_robot, playback or queue)")]
    UnknownFlowKind {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The flow name.
        flow: String,
        /// The kind as written.
        kind: String,
    },
    /// A flow lacks a setting its kind requires.
    #[error("{file}:{line}: flow {flow:?} of kind {kind} needs `{setting}`")]
    MissingSetting {
        /// The path as given.
        file: String,
        /// 1-based line of the flow table.
        line: usize,
        /// The flow name.
        flow: String,
        /// The flow kind.
        kind: &'static str,
        /// The missing key.
        setting: &'static str,
    },
    /// A flow has a setting that belongs to another kind.
    #[error("{file}:{line}: `{setting}` does not apply to flow {flow:?} of kind {kind}")]
    SettingNotForKind {
        /// The path as given.
        file: String,
        /// 1-based line of the flow table.
        line: usize,
        /// The flow name.
        flow: String,
        /// The flow kind.
        kind: &'static str,
        /// The key that does not belong.
        setting: &'static str,
    },
    /// A setting is out of its range (`no_input_ms = 10`).
    #[error("{file}:{line}: `{setting}` = {value}: {reason}")]
    BadValue {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key.
        setting: &'static str,
        /// The value as read.
        value: String,
        /// The allowed range or form.
        reason: &'static str,
    },
    /// A topic (other than the fallback) has no keyword stems, or an empty stem.
    #[error("{file}:{line}: topic {topic:?} has no stems, or an empty one")]
    EmptyStems {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The topic code.
        topic: String,
    },
    /// Two topics of one flow share a code.
    #[error("{file}:{line}: topic code {code:?} is used twice in this flow (first at line {first_line})")]
    DuplicateTopic {
        /// The path as given.
        file: String,
        /// 1-based line of the second one.
        line: usize,
        /// The code.
        code: String,
        /// 1-based line of the first one.
        first_line: usize,
    },
    /// `fallback_topic` is not the code of one of the flow's topics.
    #[error("{file}:{line}: fallback topic {code:?} is not among the flow's topics")]
    UnknownFallbackTopic {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The code.
        code: String,
    },
    /// A prompt is not exactly one of `{ text = "…" }` / `{ file = "…" }`, is empty, or
    /// uses an unknown `{placeholder}`.
    #[error("{file}:{line}: bad prompt: {reason}")]
    BadPrompt {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Two `[[queue]]` tables share a name.
    #[error("{file}:{line}: queue name {name:?} is used twice (first at line {first_line})")]
    DuplicateQueue {
        /// The path as given.
        file: String,
        /// 1-based line of the second one.
        line: usize,
        /// The name.
        name: String,
        /// 1-based line of the first one.
        first_line: usize,
    },
    /// A `kind = "queue"` flow names a queue that no `[[queue]]` declares.
    #[error("{file}:{line}: flow {flow:?} sends calls to queue {queue:?}, which is not declared as a [[queue]]")]
    UnknownQueue {
        /// The path as given.
        file: String,
        /// 1-based line of the flow table.
        line: usize,
        /// The flow name.
        flow: String,
        /// The queue name as written.
        queue: String,
    },
    /// A queue's `overflow` is not a flow that can take the call.
    #[error("{file}:{line}: queue {queue:?} overflows to {flow:?}: {reason}")]
    BadOverflow {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// The queue name.
        queue: String,
        /// The flow as written.
        flow: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A dial flow's `fallback` is not a flow, or following fallbacks loops.
    #[error("{file}:{line}: dial flow {flow:?} falls back to {fallback:?}: {reason}")]
    BadFallback {
        /// The path as given.
        file: String,
        /// 1-based line of the flow table.
        line: usize,
        /// The flow name.
        flow: String,
        /// The fallback as written.
        fallback: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl DialplanError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            DialplanError::Read { file, .. }
            | DialplanError::Syntax { file, .. }
            | DialplanError::UnknownFlow { file, .. }
            | DialplanError::BadNumberPattern { file, .. }
            | DialplanError::BadTimeRange { file, .. }
            | DialplanError::BadDays { file, .. }
            | DialplanError::UnreachableRoute { file, .. }
            | DialplanError::NoRoutes { file }
            | DialplanError::UnknownFlowKind { file, .. }
            | DialplanError::MissingSetting { file, .. }
            | DialplanError::SettingNotForKind { file, .. }
            | DialplanError::BadValue { file, .. }
            | DialplanError::EmptyStems { file, .. }
            | DialplanError::DuplicateTopic { file, .. }
            | DialplanError::UnknownFallbackTopic { file, .. }
            | DialplanError::BadPrompt { file, .. }
            | DialplanError::DuplicateQueue { file, .. }
            | DialplanError::UnknownQueue { file, .. }
            | DialplanError::BadOverflow { file, .. }
            | DialplanError::BadFallback { file, .. } => file,
        }
    }

    /// The 1-based line the error points at, when it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DialplanError::Read { .. } | DialplanError::NoRoutes { .. } => None,
            DialplanError::Syntax { line, .. }
            | DialplanError::UnknownFlow { line, .. }
            | DialplanError::BadNumberPattern { line, .. }
            | DialplanError::BadTimeRange { line, .. }
            | DialplanError::BadDays { line, .. }
            | DialplanError::UnreachableRoute { line, .. }
            | DialplanError::UnknownFlowKind { line, .. }
            | DialplanError::MissingSetting { line, .. }
            | DialplanError::SettingNotForKind { line, .. }
            | DialplanError::BadValue { line, .. }
            | DialplanError::EmptyStems { line, .. }
            | DialplanError::DuplicateTopic { line, .. }
            | DialplanError::UnknownFallbackTopic { line, .. }
            | DialplanError::BadPrompt { line, .. }
            | DialplanError::DuplicateQueue { line, .. }
            | DialplanError::UnknownQueue { line, .. }
            | DialplanError::BadOverflow { line, .. }
            | DialplanError::BadFallback { line, .. } => Some(*line),
        }
    }
}
