//! Message templates of a campaign: text with variables, rendered to words the TTS speaks
//! correctly (through zvonar-say: money, dates, numbers in case and gender).
//!
//! Variables: `{fio}`, `{address}`, `{account}`, `{debt}`, `{due_date}`, `{period}`. A
//! variable may name its case after a colon: `{debt:род}` (им, род, дат, вин, твор, пред);
//! without it, the case follows the preposition before it as zvonar-say reads numbers
//! («до {due_date}» → «до двадцать пятого ноября», «за {period}» → «за ноябрь …»,
//! «в {period}» → «в ноябре …»), else the nominative.
//!
//! Errors: an unknown variable, a bad case or an unclosed brace is a [`TemplateError`] when
//! the template is saved ([`Template::parse`]); a value the template needs and the recipient
//! lacks is a [`RenderError`] when it is rendered.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use zvonar_say::numbers::{group, split_groups, Case};
use zvonar_say::values::{case_after, day_month, money, month_year};

/// A template variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Var {
    /// `{fio}`: the account holder's name, as written.
    Fio,
    /// `{address}`: the premises' address (abbreviations expanded: «ул.» → «улица»).
    Address,
    /// `{account}`: the account number, in digit groups.
    Account,
    /// `{debt}`: the debt in kopecks, as roubles and kopecks.
    Debt,
    /// `{due_date}`: a date, as day and month.
    DueDate,
    /// `{period}`: a month of a year.
    Period,
}

impl Var {
    /// All variables.
    pub const ALL: [Var; 6] = [
        Var::Fio,
        Var::Address,
        Var::Account,
        Var::Debt,
        Var::DueDate,
        Var::Period,
    ];

    /// The name in braces.
    pub fn name(self) -> &'static str {
        match self {
            Var::Fio => "fio",
            Var::Address => "address",
            Var::Account => "account",
            Var::Debt => "debt",
            Var::DueDate => "due_date",
            Var::Period => "period",
        }
    }

    fn from_name(s: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == s)
    }
}

const CASES: [(&str, Case); 6] = [
    ("им", Case::Nom),
    ("род", Case::Gen),
    ("дат", Case::Dat),
    ("вин", Case::Acc),
    ("твор", Case::Ins),
    ("пред", Case::Prep),
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var, Option<Case>),
}

/// A parsed template ([`Template::parse`]); the source text is kept for storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// An error in a template's text, with the character position (from 1) of the brace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{name}` not among [`Var::ALL`].
    #[error("позиция {pos}: неизвестная переменная {{{name}}}; допустимы: {{fio}}, {{address}}, {{account}}, {{debt}}, {{due_date}}, {{period}}")]
    UnknownVar {
        /// Position of `{`.
        pos: usize,
        /// The name.
        name: String,
    },
    /// `{x:case}` with a case other than им, род, дат, вин, твор, пред.
    #[error("позиция {pos}: падеж «{case}» не из списка: им, род, дат, вин, твор, пред")]
    BadCase {
        /// Position of `{`.
        pos: usize,
        /// The case given.
        case: String,
    },
    /// `{` without `}`, or a stray `}`.
    #[error("позиция {pos}: непарная фигурная скобка")]
    Unbalanced {
        /// Position of the brace.
        pos: usize,
    },
    /// Nothing to say.
    #[error("пустой шаблон")]
    Empty,
}

/// A recipient's values for rendering. `None` = not known for this recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Values {
    /// Account holder's name.
    pub fio: Option<String>,
    /// Address of the premises.
    pub address: Option<String>,
    /// Account number (digits; other characters are read as text).
    pub account: Option<String>,
    /// Debt, kopecks (≥ 0).
    pub debt_kopecks: Option<i64>,
    /// A due date.
    pub due_date: Option<NaiveDate>,
    /// A period: any date in the month (the day is ignored).
    pub period: Option<NaiveDate>,
}

/// A value the template needs is missing or unusable for this recipient.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The listed variables have no value.
    #[error("нет значений для переменных: {}", .0.iter().map(|v| format!("{{{}}}", v.name())).collect::<Vec<_>>().join(", "))]
    Missing(Vec<Var>),
    /// A negative debt (an overpayment) in a template that speaks a debt.
    #[error("{{debt}}: отрицательная сумма {0} коп. (переплата) — не долг")]
    NegativeDebt(i64),
}

impl Template {
    /// Parses and checks `text`. Errors: [`TemplateError`].
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut buf = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '{' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '}' || c == '{')
                        .map(|p| p + i + 1)
                        .filter(|&p| chars[p] == '}')
                        .ok_or(TemplateError::Unbalanced { pos: i + 1 })?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let (name, case) = match inner.split_once(':') {
                        Some((n, c)) => (n.trim(), Some(c.trim())),
                        None => (inner.trim(), None),
                    };
                    let var = Var::from_name(name).ok_or_else(|| TemplateError::UnknownVar {
                        pos: i + 1,
                        name: name.to_string(),
                    })?;
                    let case = match case {
                        None => None,
                        Some(c) => Some(
                            CASES
                                .iter()
                                .find(|(n, _)| *n == c)
                                .map(|&(_, k)| k)
                                .ok_or_else(|| TemplateError::BadCase {
                                    pos: i + 1,
                                    case: c.to_string(),
                                })?,
                        ),
                    };
                    if !buf.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut buf)));
                    }
                    parts.push(Part::Var(var, case));
                    i = close + 1;
                }
                '}' => return Err(TemplateError::Unbalanced { pos: i + 1 }),
                c => {
                    buf.push(c);
                    i += 1;
                }
            }
        }
        if !buf.is_empty() {
            parts.push(Part::Text(buf));
        }
        if parts
            .iter()
            .all(|p| matches!(p, Part::Text(t) if t.trim().is_empty()))
        {
            return Err(TemplateError::Empty);
        }
        Ok(Self {
            source: text.to_string(),
            parts,
        })
    }

    /// The text as saved.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables used, each once, in [`Var`] order.
    pub fn vars(&self) -> Vec<Var> {
        let mut v: Vec<Var> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Var(v, _) => Some(*v),
                Part::Text(_) => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The text to speak for `values`: fixed text and string values through
    /// [`zvonar_say::normalize`], numbers and dates as words in case.
    ///
    /// Errors: [`RenderError::Missing`] listing every variable without a value;
    /// [`RenderError::NegativeDebt`].
    pub fn render(&self, values: &Values) -> Result<String, RenderError> {
        let missing: Vec<Var> = self
            .vars()
            .into_iter()
            .filter(|v| match v {
                Var::Fio => values.fio.as_deref().is_none_or(|s| s.trim().is_empty()),
                Var::Address => values
                    .address
                    .as_deref()
                    .is_none_or(|s| s.trim().is_empty()),
                Var::Account => values
                    .account
                    .as_deref()
                    .is_none_or(|s| s.trim().is_empty()),
                Var::Debt => values.debt_kopecks.is_none(),
                Var::DueDate => values.due_date.is_none(),
                Var::Period => values.period.is_none(),
            })
            .collect();
        if !missing.is_empty() {
            return Err(RenderError::Missing(missing));
        }
        let mut out = String::new();
        let mut prev_word: Option<String> = None;
        for p in &self.parts {
            match p {
                Part::Text(t) => {
                    out.push_str(&zvonar_say::normalize(t));
                    prev_word = last_word(t);
                }
                Part::Var(v, case) => {
                    let ctx = prev_word.as_deref().map(str::to_lowercase);
                    let inferred = ctx.as_deref().and_then(case_after).unwrap_or(Case::Nom);
                    let case = case.unwrap_or(match (v, ctx.as_deref()) {
                        (Var::Period, Some("в" | "во")) => Case::Prep,
                        (Var::DueDate, Some("по")) => Case::Acc,
                        _ => inferred,
                    });
                    let s = self.value(*v, case, values)?;
                    prev_word = None;
                    out.push_str(&s);
                }
            }
        }
        Ok(out)
    }

    fn value(&self, v: Var, case: Case, values: &Values) -> Result<String, RenderError> {
        let missing = || RenderError::Missing(vec![v]);
        Ok(match v {
            Var::Fio => values.fio.clone().ok_or_else(missing)?.trim().to_string(),
            Var::Address => zvonar_say::normalize(values.address.as_deref().ok_or_else(missing)?),
            Var::Account => {
                let a = values.account.as_deref().ok_or_else(missing)?.trim();
                if !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()) {
                    split_groups(a)
                        .into_iter()
                        .map(group)
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    zvonar_say::normalize(a)
                }
            }
            Var::Debt => {
                let k = values.debt_kopecks.ok_or_else(missing)?;
                if k < 0 {
                    return Err(RenderError::NegativeDebt(k));
                }
                money(k as u64, case)
            }
            Var::DueDate => {
                let d = values.due_date.ok_or_else(missing)?;
                day_month(d.day(), d.month(), case).ok_or_else(missing)?
            }
            Var::Period => {
                let d = values.period.ok_or_else(missing)?;
                month_year(d.month(), d.year(), case).ok_or_else(missing)?
            }
        })
    }
}

fn last_word(t: &str) -> Option<String> {
    let trimmed = t.trim_end();
    let w: String = trimmed
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!w.is_empty()).then_some(w)
}
