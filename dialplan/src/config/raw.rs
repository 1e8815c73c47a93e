//! The dialplan TOML as written ([`toml::Spanned`] keeps positions) and its validation
//! into [`Route`]s and [`Flow`]s.

use super::dial::{build_dial, check_fallbacks, RawDial};
use super::queue::{build_queues, QueueFlowSettings, RawQueue};
use super::{Days, TimeWindow};
use super::{
    DialplanError, DispatcherSettings, Flow, FlowKind, NumberPattern, PlaybackSettings, Prompt,
    Prompts, Route,
};
use crate::classify::{default_topics, Topic};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;
use zvonar_acd::{QueueConfig, QueueId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    flow: BTreeMap<String, Spanned<RawFlow>>,
    #[serde(default)]
    queue: Vec<Spanned<RawQueue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    number: Spanned<String>,
    flow: Spanned<String>,
    time: Option<Spanned<String>>,
    days: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    kind: Spanned<String>,
    // dispatcher_robot
    company: Option<Spanned<String>>,
    callback_promise: Option<Spanned<String>>,
    no_input_ms: Option<Spanned<u32>>,
    max_utterance_ms: Option<Spanned<u32>>,
    inter_digit_ms: Option<Spanned<u32>>,
    max_retries: Option<Spanned<u32>>,
    min_confidence: Option<Spanned<f64>>,
    confirm_below: Option<Spanned<f64>>,
    filler_after_ms: Option<Spanned<u32>>,
    fallback_topic: Option<Spanned<String>>,
    topics: Option<Spanned<Vec<Spanned<RawTopic>>>>,
    prompts: Option<Spanned<RawPrompts>>,
    operator_flow: Option<Spanned<String>>,
    emergency_to_operator: Option<bool>,
    // playback
    prompt: Option<Spanned<RawPrompt>>,
    // queue
    queue: Option<Spanned<String>>,
    // dial
    target: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    number: Option<Spanned<String>>,
    ring_timeout_s: Option<Spanned<u32>>,
    fallback: Option<Spanned<String>>,
}

impl RawFlow {
    /// Takes the dial settings out (every kind checks them: only dial flows may have them).
    fn take_dial(&mut self) -> RawDial {
        RawDial {
            target: self.target.take(),
            account: self.account.take(),
            number: self.number.take(),
            ring_timeout_s: self.ring_timeout_s.take(),
            fallback: self.fallback.take(),
        }
    }

    /// The first setting written that dial flows do not take.
    fn first_non_dial(&self) -> Option<&'static str> {
        [
            ("company", self.company.is_some()),
            ("callback_promise", self.callback_promise.is_some()),
            ("no_input_ms", self.no_input_ms.is_some()),
            ("max_utterance_ms", self.max_utterance_ms.is_some()),
            ("inter_digit_ms", self.inter_digit_ms.is_some()),
            ("max_retries", self.max_retries.is_some()),
            ("min_confidence", self.min_confidence.is_some()),
            ("confirm_below", self.confirm_below.is_some()),
            ("filler_after_ms", self.filler_after_ms.is_some()),
            ("fallback_topic", self.fallback_topic.is_some()),
            ("topics", self.topics.is_some()),
            ("prompts", self.prompts.is_some()),
            ("prompt", self.prompt.is_some()),
            ("queue", self.queue.is_some()),
            ("operator_flow", self.operator_flow.is_some()),
            (
                "emergency_to_operator",
                self.emergency_to_operator.is_some(),
            ),
        ]
        .into_iter()
        .find(|(_, p)| *p)
        .map(|(s, _)| s)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    code: Spanned<String>,
    name: Spanned<String>,
    stems: Spanned<Vec<String>>,
    #[serde(default)]
    emergency_stems: Vec<String>,
}

type P = Option<Spanned<RawPrompt>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompts {
    greeting: P,
    ask_building: P,
    ask_apartment: P,
    ask_problem: P,
    not_understood: P,
    no_input: P,
    silence_goodbye: P,
    failed_goodbye: P,
    emergency_registered: P,
    goodbye: P,
    ticket_not_filed: P,
    no_operators: P,
    to_operator: P,
    callback_recorded: P,
    confirm_apartment: P,
    apartment_not_in_registry: P,
    filler: P,
    keypad_fallback: P,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrompt {
    text: Option<String>,
    file: Option<String>,
}

/// Positions → 1-based lines of one file.
pub(super) struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn line_of<T>(&self, s: &Spanned<T>) -> usize {
        self.line(s.span().start)
    }

    pub(super) fn file(&self) -> String {
        self.file.to_string()
    }
}

/// What a dialplan file declares.
type Built = (Vec<Route>, BTreeMap<String, Flow>, Vec<QueueConfig>);

/// Parses and validates the whole file.
pub(super) fn build(text: &str, file: &str) -> Result<Built, DialplanError> {
    let cx = Ctx { text, file };
    let raw: RawFile = toml::from_str(text).map_err(|e| DialplanError::Syntax {
        file: cx.file(),
        line: e.span().map_or(1, |s| cx.line(s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut flows = BTreeMap::new();
    let mut flow_lines = BTreeMap::new();
    // (flow, operator_flow as written, its line): checked once every flow is built.
    let mut operator_flows: Vec<(String, String, usize)> = Vec::new();
    for (name, f) in raw.flow {
        flow_lines.insert(name.clone(), cx.line_of(&f));
        if let Some(o) = &f.get_ref().operator_flow {
            operator_flows.push((name.clone(), o.get_ref().clone(), cx.line_of(o)));
        }
        let flow = build_flow(&cx, &name, f)?;
        flows.insert(name, flow);
    }
    let queues = build_queues(&cx, raw.queue, &flows, &flow_lines)?;
    check_fallbacks(&cx, &flows, &flow_lines)?;
    for (_flow, target, line) in operator_flows {
        if !matches!(
            flows.get(&target).map(|f| &f.kind),
            Some(FlowKind::Queue(_))
        ) {
            return Err(DialplanError::BadValue {
                file: cx.file(),
                line,
                setting: "operator_flow",
                value: format!("{target:?}"),
                reason: "must name a flow with kind = \"queue\"",
            });
        }
    }
    let mut routes: Vec<Route> = Vec::new();
    for r in raw.route {
        let line = cx.line_of(&r);
        let r = r.into_inner();
        let number = NumberPattern::parse(r.number.get_ref()).ok_or_else(|| {
            DialplanError::BadNumberPattern {
                file: cx.file(),
                line: cx.line_of(&r.number),
                pattern: r.number.get_ref().clone(),
            }
        })?;
        let time = match &r.time {
            None => None,
            Some(t) => Some(TimeWindow::parse(t.get_ref()).map_err(|reason| {
                DialplanError::BadTimeRange {
                    file: cx.file(),
                    line: cx.line_of(t),
                    value: t.get_ref().clone(),
                    reason,
                }
            })?),
        };
        let days = match &r.days {
            None => None,
            Some(d) => Some(
                Days::parse(d.get_ref()).ok_or_else(|| DialplanError::BadDays {
                    file: cx.file(),
                    line: cx.line_of(d),
                    value: d.get_ref().clone(),
                })?,
            ),
        };
        let flow = r.flow.get_ref().clone();
        if !flows.contains_key(&flow) {
            return Err(DialplanError::UnknownFlow {
                file: cx.file(),
                line: cx.line_of(&r.flow),
                flow,
            });
        }
        if let Some(prev) = routes.iter().find(|p| p.is_catch_all()) {
            return Err(DialplanError::UnreachableRoute {
                file: cx.file(),
                line,
                shadowed_by: prev.line,
            });
        }
        routes.push(Route {
            number,
            time,
            days,
            flow,
            line,
        });
    }
    if routes.is_empty() {
        return Err(DialplanError::NoRoutes { file: cx.file() });
    }
    Ok((routes, flows, queues))
}

fn build_flow(cx: &Ctx<'_>, name: &str, f: Spanned<RawFlow>) -> Result<Flow, DialplanError> {
    let line = cx.line_of(&f);
    let mut f = f.into_inner();
    let dial = f.take_dial();
    let other_kind = match f.kind.get_ref().as_str() {
        "dispatcher_robot" => Some("dispatcher_robot"),
        "playback" => Some("playback"),
        "queue" => Some("queue"),
        _ => None,
    };
    if let (Some(kind), Some(setting)) = (other_kind, dial.first_present()) {
        return Err(DialplanError::SettingNotForKind {
            file: cx.file(),
            line,
            flow: name.to_string(),
            kind,
            setting,
        });
    }
    let kind = match f.kind.get_ref().as_str() {
        "dial" => {
            let other = f.first_non_dial();
            FlowKind::Dial(build_dial(cx, name, line, dial, other)?)
        }
        "dispatcher_robot" => {
            FlowKind::DispatcherRobot(Box::new(build_dispatcher(cx, name, line, f)?))
        }
        "playback" => FlowKind::Playback(build_playback(cx, name, line, f)?),
        "queue" => FlowKind::Queue(build_queue_flow(cx, name, line, f)?),
        other => {
            return Err(DialplanError::UnknownFlowKind {
                file: cx.file(),
                line: cx.line_of(&f.kind),
                flow: name.to_string(),
                kind: other.to_string(),
            })
        }
    };
    Ok(Flow {
        name: name.to_string(),
        kind,
    })
}

fn build_playback(
    cx: &Ctx<'_>,
    name: &str,
    line: usize,
    f: RawFlow,
) -> Result<PlaybackSettings, DialplanError> {
    let not_for = |setting: &'static str| DialplanError::SettingNotForKind {
        file: cx.file(),
        line,
        flow: name.to_string(),
        kind: "playback",
        setting,
    };
    let present: [(&'static str, bool); 14] = [
        ("company", f.company.is_some()),
        ("callback_promise", f.callback_promise.is_some()),
        ("no_input_ms", f.no_input_ms.is_some()),
        ("max_utterance_ms", f.max_utterance_ms.is_some()),
        ("inter_digit_ms", f.inter_digit_ms.is_some()),
        ("max_retries", f.max_retries.is_some()),
        ("min_confidence", f.min_confidence.is_some()),
        ("confirm_below", f.confirm_below.is_some()),
        ("fallback_topic", f.fallback_topic.is_some()),
        ("topics", f.topics.is_some()),
        ("prompts", f.prompts.is_some()),
        ("queue", f.queue.is_some()),
        ("operator_flow", f.operator_flow.is_some()),
        ("emergency_to_operator", f.emergency_to_operator.is_some()),
    ];
    if let Some((setting, _)) = present.iter().find(|(_, p)| *p) {
        return Err(not_for(setting));
    }
    if f.filler_after_ms.is_some() {
        return Err(not_for("filler_after_ms"));
    }
    let prompt = f.prompt.ok_or_else(|| DialplanError::MissingSetting {
        file: cx.file(),
        line,
        flow: name.to_string(),
        kind: "playback",
        setting: "prompt",
    })?;
    Ok(PlaybackSettings {
        prompt: build_prompt(cx, &prompt)?,
    })
}

fn build_queue_flow(
    cx: &Ctx<'_>,
    name: &str,
    line: usize,
    f: RawFlow,
) -> Result<QueueFlowSettings, DialplanError> {
    let present: [(&'static str, bool); 14] = [
        ("company", f.company.is_some()),
        ("callback_promise", f.callback_promise.is_some()),
        ("no_input_ms", f.no_input_ms.is_some()),
        ("max_utterance_ms", f.max_utterance_ms.is_some()),
        ("inter_digit_ms", f.inter_digit_ms.is_some()),
        ("max_retries", f.max_retries.is_some()),
        ("min_confidence", f.min_confidence.is_some()),
        ("confirm_below", f.confirm_below.is_some()),
        ("fallback_topic", f.fallback_topic.is_some()),
        ("topics", f.topics.is_some()),
        ("prompts", f.prompts.is_some()),
        ("prompt", f.prompt.is_some()),
        ("operator_flow", f.operator_flow.is_some()),
        ("emergency_to_operator", f.emergency_to_operator.is_some()),
    ];
    if let Some((setting, _)) = present.iter().find(|(_, p)| *p) {
        return Err(DialplanError::SettingNotForKind {
            file: cx.file(),
            line,
            flow: name.to_string(),
            kind: "queue",
            setting,
        });
    }
    let queue = f.queue.ok_or_else(|| DialplanError::MissingSetting {
        file: cx.file(),
        line,
        flow: name.to_string(),
        kind: "queue",
        setting: "queue",
    })?;
    Ok(QueueFlowSettings {
        queue: QueueId(queue.into_inner()),
    })
}

fn range_u32(
    cx: &Ctx<'_>,
    v: &Option<Spanned<u32>>,
    setting: &'static str,
    lo: u32,
    hi: u32,
    reason: &'static str,
    default: u32,
) -> Result<u32, DialplanError> {
    match v {
        None => Ok(default),
        Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref()),
        Some(s) => Err(DialplanError::BadValue {
            file: cx.file(),
            line: cx.line_of(s),
            setting,
            value: s.get_ref().to_string(),
            reason,
        }),
    }
}

fn build_dispatcher(
    cx: &Ctx<'_>,
    name: &str,
    line: usize,
    f: RawFlow,
) -> Result<DispatcherSettings, DialplanError> {
    for (setting, present) in [("prompt", f.prompt.is_some()), ("queue", f.queue.is_some())] {
        if present {
            return Err(DialplanError::SettingNotForKind {
                file: cx.file(),
                line,
                flow: name.to_string(),
                kind: "dispatcher_robot",
                setting,
            });
        }
    }
    let company = f.company.ok_or_else(|| DialplanError::MissingSetting {
        file: cx.file(),
        line,
        flow: name.to_string(),
        kind: "dispatcher_robot",
        setting: "company",
    })?;
    let defaults = DispatcherSettings::default();
    let non_empty = |s: Option<Spanned<String>>, setting: &'static str, default: String| match s {
        None => Ok(default),
        Some(s) if s.get_ref().trim().is_empty() => Err(DialplanError::BadValue {
            file: cx.file(),
            line: cx.line_of(&s),
            setting,
            value: "\"\"".to_string(),
            reason: "must not be empty",
        }),
        Some(s) => Ok(s.into_inner()),
    };
    let company = non_empty(Some(company), "company", String::new())?;
    let callback_promise = non_empty(
        f.callback_promise,
        "callback_promise",
        defaults.callback_promise,
    )?;
    let no_input_ms = range_u32(
        cx,
        &f.no_input_ms,
        "no_input_ms",
        1000,
        60_000,
        "must be 1000–60000 ms",
        defaults.no_input_ms,
    )?;
    let max_utterance_ms = range_u32(
        cx,
        &f.max_utterance_ms,
        "max_utterance_ms",
        1000,
        120_000,
        "must be 1000–120000 ms",
        defaults.max_utterance_ms,
    )?;
    let inter_digit_ms = range_u32(
        cx,
        &f.inter_digit_ms,
        "inter_digit_ms",
        1000,
        10_000,
        "must be 1000–10000 ms",
        defaults.inter_digit_ms,
    )?;
    let max_retries = range_u32(
        cx,
        &f.max_retries,
        "max_retries",
        0,
        5,
        "must be 0–5",
        u32::from(defaults.max_retries),
    )? as u8;
    let unit = |v: &Option<Spanned<f64>>, setting: &'static str, default: f32| match v {
        None => Ok(default),
        Some(s) if (0.0..=1.0).contains(s.get_ref()) => Ok(*s.get_ref() as f32),
        Some(s) => Err(DialplanError::BadValue {
            file: cx.file(),
            line: cx.line_of(s),
            setting,
            value: s.get_ref().to_string(),
            reason: "must be between 0 and 1",
        }),
    };
    let min_confidence = unit(&f.min_confidence, "min_confidence", defaults.min_confidence)?;
    let confirm_below = unit(&f.confirm_below, "confirm_below", defaults.confirm_below)?;
    let filler_after_ms = match &f.filler_after_ms {
        None => defaults.filler_after_ms,
        Some(s) if *s.get_ref() == 0 || (500..=10_000).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            return Err(DialplanError::BadValue {
                file: cx.file(),
                line: cx.line_of(s),
                setting: "filler_after_ms",
                value: s.get_ref().to_string(),
                reason: "must be 0 (never) or 500–10000 ms",
            })
        }
    };
    let topics = match f.topics {
        None => default_topics(),
        Some(list) => build_topics(cx, list)?,
    };
    let fallback_topic = match f.fallback_topic {
        None => defaults.fallback_topic,
        Some(s) => {
            if !topics.iter().any(|t| &t.code == s.get_ref()) {
                return Err(DialplanError::UnknownFallbackTopic {
                    file: cx.file(),
                    line: cx.line_of(&s),
                    code: s.into_inner(),
                });
            }
            s.into_inner()
        }
    };
    if !topics.iter().any(|t| t.code == fallback_topic) {
        return Err(DialplanError::UnknownFallbackTopic {
            file: cx.file(),
            line,
            code: fallback_topic,
        });
    }
    // Stems may be empty only on the fallback topic.
    for t in &topics {
        if t.code != fallback_topic && t.stems.is_empty() {
            return Err(DialplanError::EmptyStems {
                file: cx.file(),
                line,
                topic: t.code.clone(),
            });
        }
    }
    let prompts = match f.prompts {
        None => defaults.prompts,
        Some(p) => build_prompts(cx, p.into_inner())?,
    };
    Ok(DispatcherSettings {
        company,
        topics,
        fallback_topic,
        callback_promise,
        no_input_ms,
        max_utterance_ms,
        inter_digit_ms,
        max_retries,
        min_confidence,
        confirm_below,
        filler_after_ms,
        prompts,
        operator_flow: f.operator_flow.map(|o| o.into_inner()),
        emergency_to_operator: f.emergency_to_operator.unwrap_or(false),
    })
}

fn build_topics(
    cx: &Ctx<'_>,
    list: Spanned<Vec<Spanned<RawTopic>>>,
) -> Result<Vec<Topic>, DialplanError> {
    let mut out: Vec<Topic> = Vec::new();
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    for t in list.into_inner() {
        let t = t.into_inner();
        let code = t.code.get_ref().trim().to_string();
        let line = cx.line_of(&t.code);
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(DialplanError::BadValue {
                file: cx.file(),
                line,
                setting: "code",
                value: format!("{code:?}"),
                reason: "a topic code is lowercase latin letters, digits and _",
            });
        }
        if let Some(first) = first_line.get(&code) {
            return Err(DialplanError::DuplicateTopic {
                file: cx.file(),
                line,
                code,
                first_line: *first,
            });
        }
        first_line.insert(code.clone(), line);
        let stems_line = cx.line_of(&t.stems);
        let stems = t.stems.into_inner();
        let bad_stem = stems
            .iter()
            .any(|s| s.trim().is_empty() || s.trim().contains(' '));
        let bad_emergency = t.emergency_stems.iter().any(|s| s.trim().is_empty());
        if bad_stem || bad_emergency {
            return Err(DialplanError::EmptyStems {
                file: cx.file(),
                line: stems_line,
                topic: code,
            });
        }
        out.push(Topic {
            code,
            name: t.name.into_inner(),
            stems: stems.iter().map(|s| s.trim().to_string()).collect(),
            emergency_stems: t.emergency_stems,
        });
    }
    Ok(out)
}

fn build_prompts(cx: &Ctx<'_>, p: RawPrompts) -> Result<Prompts, DialplanError> {
    let d = Prompts::default();
    let pick = |raw: P, default: Prompt| match raw {
        None => Ok(default),
        Some(r) => build_prompt(cx, &r),
    };
    Ok(Prompts {
        greeting: pick(p.greeting, d.greeting)?,
        ask_building: pick(p.ask_building, d.ask_building)?,
        ask_apartment: pick(p.ask_apartment, d.ask_apartment)?,
        ask_problem: pick(p.ask_problem, d.ask_problem)?,
        not_understood: pick(p.not_understood, d.not_understood)?,
        no_input: pick(p.no_input, d.no_input)?,
        silence_goodbye: pick(p.silence_goodbye, d.silence_goodbye)?,
        failed_goodbye: pick(p.failed_goodbye, d.failed_goodbye)?,
        emergency_registered: pick(p.emergency_registered, d.emergency_registered)?,
        goodbye: pick(p.goodbye, d.goodbye)?,
        ticket_not_filed: pick(p.ticket_not_filed, d.ticket_not_filed)?,
        no_operators: pick(p.no_operators, d.no_operators)?,
        to_operator: pick(p.to_operator, d.to_operator)?,
        callback_recorded: pick(p.callback_recorded, d.callback_recorded)?,
        confirm_apartment: number_prompt(cx, p.confirm_apartment, d.confirm_apartment)?,
        apartment_not_in_registry: number_prompt(
            cx,
            p.apartment_not_in_registry,
            d.apartment_not_in_registry,
        )?,
        filler: pick(p.filler, d.filler)?,
        keypad_fallback: pick(p.keypad_fallback, d.keypad_fallback)?,
    })
}

/// A prompt that says a number (`{number}`): text only, and the text must use `{number}`.
fn number_prompt(cx: &Ctx<'_>, raw: P, default: Prompt) -> Result<Prompt, DialplanError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let bad = |reason: &str| DialplanError::BadPrompt {
        file: cx.file(),
        line: cx.line_of(&raw),
        reason: reason.to_string(),
    };
    if raw.get_ref().file.is_some() {
        return Err(bad(
            "this prompt says a number: write it as { text = \"… {number} …\" }, not a file",
        ));
    }
    match build_prompt_with(cx, &raw, &["company", "promise", "number"])? {
        Prompt::Text(t) if !t.contains("{number}") => {
            Err(bad("the text must say the number: use {number}"))
        }
        p => Ok(p),
    }
}

/// Placeholders a prompt text may use.
const PLACEHOLDERS: &[&str] = &["company", "promise"];

fn build_prompt(cx: &Ctx<'_>, raw: &Spanned<RawPrompt>) -> Result<Prompt, DialplanError> {
    build_prompt_with(cx, raw, PLACEHOLDERS)
}

fn build_prompt_with(
    cx: &Ctx<'_>,
    raw: &Spanned<RawPrompt>,
    placeholders: &[&str],
) -> Result<Prompt, DialplanError> {
    let bad = |reason: String| DialplanError::BadPrompt {
        file: cx.file(),
        line: cx.line_of(raw),
        reason,
    };
    let r = raw.get_ref();
    match (&r.text, &r.file) {
        (Some(t), None) => {
            if t.trim().is_empty() {
                return Err(bad("the text is empty".into()));
            }
            let mut rest = t.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let close = after
                    .find('}')
                    .ok_or_else(|| bad("a '{' is not closed".into()))?;
                let name = &after[..close];
                if !placeholders.contains(&name) {
                    let known: Vec<String> =
                        placeholders.iter().map(|p| format!("{{{p}}}")).collect();
                    return Err(bad(format!(
                        "unknown placeholder {{{name}}} (known: {})",
                        known.join(", ")
                    )));
                }
                rest = &after[close + 1..];
            }
            Ok(Prompt::Text(t.clone()))
        }
        (None, Some(f)) if !f.trim().is_empty() => Ok(Prompt::File(f.clone())),
        (None, Some(_)) => Err(bad("the file path is empty".into())),
        _ => Err(bad(
            "write exactly one of { text = \"…\" } or { file = \"…\" }".into(),
        )),
    }
}
