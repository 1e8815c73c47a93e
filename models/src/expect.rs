//! What kind of answer a question expects, so that speech recognition can be slot-aware.
//!
//! The dispatcher robot sets an [`Expect`] on every question it listens to; the engine
//! hands it with the caller's utterance to the recogniser, which may then decode
//! differently (for a number: a Russian number-context prompt, a grammar over number
//! words). A recogniser that knows nothing better treats every expectation as
//! [`Expect::Free`].

/// The answer a question expects (the slot it fills, in dialogue-system terms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expect {
    /// A number: «сорок пять», «тысяча сто семьдесят восемь», «двенадцать а».
    Number(NumberSlot),
    /// «да» or «нет» (and their colloquial forms: «ага», «нет, не по этому»).
    YesNo,
    /// Anything: a problem description, a street and house, a request for an operator.
    #[default]
    Free,
}

/// Which number a question asks for; the recogniser may bias its vocabulary by it
/// (an apartment may carry a letter, «двенадцать а»; a rating is 1–5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumberSlot {
    /// An apartment number, 1–9999, possibly with a letter («12а»).
    Apartment,
    /// A house number, possibly with a letter, building or fraction («5к2», «7/1»).
    House,
    /// A meter reading (показания счётчика): digits, possibly with a decimal part.
    Reading,
    /// A rating of the service, 1–5.
    Rating,
}

impl Expect {
    /// The stable snake_case code for logs and the call timeline: `number_apartment`,
    /// `number_house`, `number_reading`, `number_rating`, `yes_no`, `free`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Number(NumberSlot::Apartment) => "number_apartment",
            Expect::Number(NumberSlot::House) => "number_house",
            Expect::Number(NumberSlot::Reading) => "number_reading",
            Expect::Number(NumberSlot::Rating) => "number_rating",
            Expect::YesNo => "yes_no",
            Expect::Free => "free",
        }
    }

    /// Whether the answer is a number of any slot.
    pub fn is_number(self) -> bool {
        matches!(self, Expect::Number(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_free_is_the_default() {
        let all = [
            Expect::Number(NumberSlot::Apartment),
            Expect::Number(NumberSlot::House),
            Expect::Number(NumberSlot::Reading),
            Expect::Number(NumberSlot::Rating),
            Expect::YesNo,
            Expect::Free,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|e| e.as_str()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Expect::default(), Expect::Free);
        assert!(Expect::Number(NumberSlot::Rating).is_number());
        assert!(!Expect::YesNo.is_number());
    }
}
