//! `kind = "dial"` flows: connect the caller to one SIP endpoint (the duty dispatcher's desk
//! phone, a softphone registered as a SIP account, a number behind a SIP URI), with a ring
//! timeout and a fallback flow when nobody takes the call.
//!
//! ```toml
//! [flow.duty]
//! kind = "dial"
//! account = "101"            # a SIP account registered with zvonar (zvonar sip-account add)
//! # target = "sip:112@192.0.2.10:5060"   # …or any SIP URI
//! # number = "+79161234567"  # …or a phone number through the SIP trunks (exactly one of the three)
//! ring_timeout_s = 25        # ring this long, then CANCEL (5–120, default 25)
//! fallback = "dispatcher"    # busy, no answer, not registered, failed: this flow takes over
//! ```

use super::raw::Ctx;
use super::{DialplanError, Flow, FlowKind};
use std::collections::BTreeMap;
use toml::Spanned;

/// Default ring time of a dial flow, s.
pub const DEFAULT_RING_TIMEOUT_S: u32 = 25;

/// Who a dial flow rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTo {
    /// `target = "sip:…"`: a SIP URI, sent to its host.
    Uri(String),
    /// `account = "101"`: a SIP account of our registrar, rung at its registered Contact.
    Account(String),
    /// `number = "+79161234567"`: a phone number dialled through the SIP trunks
    /// (`[[trunk]]` in zvonar.toml), presenting the trunk's caller ID.
    Number(String),
}

/// Settings of a `kind = "dial"` flow (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialSettings {
    /// Who to ring.
    pub to: DialTo,
    /// Ring time before giving up (CANCEL), s (5–120).
    pub ring_timeout_s: u32,
    /// The flow that takes the call when the dialled party is busy, does not answer within
    /// `ring_timeout_s`, rejects it, is not registered, or the attempt fails.
    pub fallback: String,
}

/// The raw dial settings of a flow table.
pub(super) struct RawDial {
    pub(super) target: Option<Spanned<String>>,
    pub(super) account: Option<Spanned<String>>,
    pub(super) number: Option<Spanned<String>>,
    pub(super) ring_timeout_s: Option<Spanned<u32>>,
    pub(super) fallback: Option<Spanned<String>>,
}

impl RawDial {
    /// The first dial setting written, for "not a setting of this kind" errors.
    pub(super) fn first_present(&self) -> Option<&'static str> {
        [
            ("target", self.target.is_some()),
            ("account", self.account.is_some()),
            ("number", self.number.is_some()),
            ("ring_timeout_s", self.ring_timeout_s.is_some()),
            ("fallback", self.fallback.is_some()),
        ]
        .into_iter()
        .find(|(_, p)| *p)
        .map(|(s, _)| s)
    }
}

/// Validates a dial flow's own settings; `other` is the first non-dial setting written.
pub(super) fn build_dial(
    cx: &Ctx<'_>,
    name: &str,
    line: usize,
    raw: RawDial,
    other: Option<&'static str>,
) -> Result<DialSettings, DialplanError> {
    if let Some(setting) = other {
        return Err(DialplanError::SettingNotForKind {
            file: cx.file(),
            line,
            flow: name.to_string(),
            kind: "dial",
            setting,
        });
    }
    let bad = |s: &Spanned<String>, setting: &'static str, reason: &'static str| {
        DialplanError::BadValue {
            file: cx.file(),
            line: cx.line_of(s),
            setting,
            value: format!("{:?}", s.get_ref()),
            reason,
        }
    };
    let given = [
        ("target", raw.target.as_ref()),
        ("account", raw.account.as_ref()),
        ("number", raw.number.as_ref()),
    ];
    if given.iter().filter(|(_, v)| v.is_some()).count() > 1 {
        // The one written last is the one too many.
        if let Some((setting, Some(v))) = given
            .iter()
            .filter(|(_, v)| v.is_some())
            .max_by_key(|(_, v)| v.map_or(0, |v| v.span().start))
        {
            return Err(bad(
                v,
                setting,
                "give one of target, account or number, not several",
            ));
        }
    }
    let to = match (raw.target, raw.account, raw.number) {
        (Some(t), None, None) => {
            let uri = t.get_ref().trim();
            let lower = uri.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("sip:")
                .or_else(|| lower.strip_prefix("sips:"));
            match rest {
                Some(r)
                    if !r.is_empty() && !r.starts_with('@') && !r.contains(char::is_whitespace) =>
                {
                    DialTo::Uri(uri.to_string())
                }
                _ => {
                    return Err(bad(
                        &t,
                        "target",
                        "a SIP URI such as \"sip:112@192.0.2.10:5060\"",
                    ))
                }
            }
        }
        (None, Some(a), None) => {
            let user = a.get_ref().trim();
            if user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
            {
                return Err(bad(
                    &a,
                    "account",
                    "a SIP account name: latin letters, digits, + - . _",
                ));
            }
            DialTo::Account(user.to_string())
        }
        (None, None, Some(n)) => {
            let number = n.get_ref().trim();
            let digits = number.strip_prefix('+').unwrap_or(number);
            if !(2..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(
                    &n,
                    "number",
                    "a phone number: 2–20 digits after an optional +, e.g. \"+79161234567\"",
                ));
            }
            DialTo::Number(number.to_string())
        }
        _ => {
            return Err(DialplanError::MissingSetting {
                file: cx.file(),
                line,
                flow: name.to_string(),
                kind: "dial",
                setting: "target, account or number",
            })
        }
    };
    let ring_timeout_s = match &raw.ring_timeout_s {
        None => DEFAULT_RING_TIMEOUT_S,
        Some(s) if (5..=120).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            return Err(DialplanError::BadValue {
                file: cx.file(),
                line: cx.line_of(s),
                setting: "ring_timeout_s",
                value: s.get_ref().to_string(),
                reason: "must be 5–120 s",
            })
        }
    };
    let fallback = raw
        .fallback
        .ok_or_else(|| DialplanError::MissingSetting {
            file: cx.file(),
            line,
            flow: name.to_string(),
            kind: "dial",
            setting: "fallback",
        })?
        .into_inner();
    Ok(DialSettings {
        to,
        ring_timeout_s,
        fallback,
    })
}

/// Every dial flow's fallback must be another flow, and following fallbacks must end in a
/// flow that is not a dial flow (no loop of phones ringing each other for ever).
pub(super) fn check_fallbacks(
    cx: &Ctx<'_>,
    flows: &BTreeMap<String, Flow>,
    flow_lines: &BTreeMap<String, usize>,
) -> Result<(), DialplanError> {
    for flow in flows.values() {
        let FlowKind::Dial(d) = &flow.kind else {
            continue;
        };
        let line = flow_lines.get(&flow.name).copied().unwrap_or(1);
        let err = |reason: &'static str| DialplanError::BadFallback {
            file: cx.file(),
            line,
            flow: flow.name.clone(),
            fallback: d.fallback.clone(),
            reason,
        };
        let mut seen = vec![flow.name.as_str()];
        let mut next = d.fallback.as_str();
        loop {
            let Some(f) = flows.get(next) else {
                return Err(err("no such flow under [flow]"));
            };
            if seen.contains(&next) {
                return Err(err("the fallbacks loop back to this flow"));
            }
            seen.push(next);
            match &f.kind {
                FlowKind::Dial(n) => next = n.fallback.as_str(),
                _ => break,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Dialplan;

    const BASE: &str = r#"
[[route]]
number = "*"
flow = "d"

[flow.d]
kind = "dispatcher_robot"
company = "УК «Дом»"
"#;

    fn parse(extra: &str) -> Result<Dialplan, DialplanError> {
        Dialplan::parse(&format!("{BASE}{extra}"), "test.toml")
    }

    /// The commented example in deploy/dialplan.toml works once uncommented (flow and route).
    #[test]
    fn the_shipped_commented_example_works() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text
            .find("# [flow.duty]")
            .expect("the example is in deploy/dialplan.toml");
        let example: String = text[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| {
                let l = l.strip_prefix('#').unwrap_or(l);
                format!("{}\n", l.strip_prefix(' ').unwrap_or(l))
            })
            .collect();
        // The route the comment shows, placed first so it is reachable.
        let route = "[[route]]\nnumber = \"+74951234569\"\nflow = \"duty\"\n";
        let dp = Dialplan::parse(&format!("{route}{text}\n{example}"), "dialplan.toml").unwrap();
        let flow = dp
            .route("+74951234569", chrono::NaiveDateTime::default())
            .unwrap();
        let FlowKind::Dial(d) = &flow.kind else {
            panic!("{flow:?}")
        };
        assert_eq!(
            d,
            &DialSettings {
                to: DialTo::Account("101".into()),
                ring_timeout_s: 25,
                fallback: "dispatcher".into()
            }
        );
        assert!(matches!(
            dp.flow("dispatcher").unwrap().kind,
            FlowKind::DispatcherRobot(_)
        ));
    }

    #[test]
    fn dial_flows_are_read() {
        let dp = parse(
            "[flow.duty]\nkind = \"dial\"\naccount = \"101\"\nfallback = \"d\"\n\
             [flow.desk]\nkind = \"dial\"\ntarget = \"sip:112@192.0.2.10:5060\"\nring_timeout_s = 40\nfallback = \"duty\"\n",
        )
        .unwrap();
        let FlowKind::Dial(duty) = &dp.flow("duty").unwrap().kind else {
            panic!()
        };
        assert_eq!(
            duty,
            &DialSettings {
                to: DialTo::Account("101".into()),
                ring_timeout_s: DEFAULT_RING_TIMEOUT_S,
                fallback: "d".into()
            }
        );
        let FlowKind::Dial(desk) = &dp.flow("desk").unwrap().kind else {
            panic!()
        };
        assert_eq!(desk.to, DialTo::Uri("sip:112@192.0.2.10:5060".into()));
        let dp =
            parse("[flow.out]\nkind = \"dial\"\nnumber = \"+79161234567\"\nfallback = \"d\"\n")
                .unwrap();
        let FlowKind::Dial(out) = &dp.flow("out").unwrap().kind else {
            panic!()
        };
        assert_eq!(out.to, DialTo::Number("+79161234567".into()));
        assert_eq!((desk.ring_timeout_s, desk.fallback.as_str()), (40, "duty"));
    }

    #[test]
    fn bad_dial_flows_are_refused_with_their_line() {
        let cases: [(&str, &str, usize); 11] = [
            (
                "[flow.x]\nkind = \"dial\"\nnumber = \"8 (916) 123\"\nfallback = \"d\"\n",
                "phone number",
                11,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\nnumber = \"+79161234567\"\nfallback = \"d\"\n",
                "not several",
                12,
            ),
            ("[flow.x]\nkind = \"dial\"\nfallback = \"d\"\n", "target, account or number", 9),
            ("[flow.x]\nkind = \"dial\"\naccount = \"101\"\n", "fallback", 9),
            (
                "[flow.x]\nkind = \"dial\"\ntarget = \"tel:112\"\nfallback = \"d\"\n",
                "SIP URI",
                11,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"Иван\"\nfallback = \"d\"\n",
                "account name",
                11,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\ntarget = \"sip:1@h\"\nfallback = \"d\"\n",
                "not several",
                12,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\nring_timeout_s = 2\nfallback = \"d\"\n",
                "5–120",
                12,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\nfallback = \"nope\"\n",
                "no such flow",
                9,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\nfallback = \"y\"\n\
                 [flow.y]\nkind = \"dial\"\naccount = \"2\"\nfallback = \"x\"\n",
                "loop",
                9,
            ),
            (
                "[flow.x]\nkind = \"dial\"\naccount = \"1\"\nfallback = \"d\"\ncompany = \"x\"\n",
                "company",
                9,
            ),
        ];
        for (extra, needle, line) in cases {
            let e = parse(extra).expect_err(extra);
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert_eq!(e.line(), Some(line), "{e}");
        }
        // Dial settings belong to dial flows only.
        let e =
            parse("[flow.p]\nkind = \"playback\"\nprompt = { text = \"x\" }\nfallback = \"d\"\n")
                .unwrap_err();
        assert!(
            matches!(
                e,
                DialplanError::SettingNotForKind {
                    setting: "fallback",
                    ..
                }
            ),
            "{e}"
        );
    }
}
