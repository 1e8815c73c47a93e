//! Number answers decoded under a grammar (slot-aware recognition).
//!
//! whisper.cpp's own GBNF grammar cannot be reached through whisper-rs 0.16
//! (`FullParams::set_grammar` hands over a flat element array where whisper.cpp expects
//! an array of rule pointers; whisper-rs issue #146), so the same idea is applied here
//! through whisper.cpp's logits filter: before every decoder step, every vocabulary token
//! whose text would leave the grammar gets a logit of −∞, and Whisper picks the likeliest
//! token among those left.
//!
//! The grammar ([`NumberGrammar`]) is a word list — the number words in all their forms,
//! the slot's keywords («квартира») and fillers («ну», «у меня») as the dialplan lists
//! them — plus digit groups of up to six digits, joined by a space, a punctuation mark
//! (`,` `.` `-` `?` `!`) or both (`", "`). It works on bytes, as Whisper's byte-level BPE does (a token may
//! hold half of a Cyrillic letter). Each word is allowed lowercase and capitalised.
//!
//! What the constraint costs is measured at every step: the probability mass the
//! unconstrained model gave to the allowed tokens ([`Constraint::allowed_mass`]). A
//! caller who said «не знаю» is forced into number words only at a low mass, and the
//! transcript's confidence is the product of the chosen tokens' constrained probability
//! and that mass, so such an answer is rejected (`low_confidence`) or read back for
//! confirmation instead of being taken as a number.

use std::collections::BTreeMap;

/// Bytes that separate words: space and the punctuation Whisper writes between numbers.
const SEPARATORS: &[u8] = b" ,.-?!";
/// [`GrammarState::Boundary`] flag: a punctuation mark was written since the last word.
const PUNCT: u8 = 1;
/// [`GrammarState::Boundary`] flag: a space was written since the last word.
const SPACE: u8 = 2;
/// [`GrammarState::Boundary`] flag: a second space (after a punctuation mark: `" - "`).
const SPACE2: u8 = 4;
/// [`GrammarState::Boundary`] flag: the last byte was a space.
const LAST_SPACE: u8 = 8;
/// [`GrammarState::Boundary`] flag: a word or digit group came before (not the start).
const AFTER: u8 = 16;
/// Most digits in one group (`1178`, `123456`).
const MAX_DIGITS: u8 = 6;

/// A word list with digit groups, as a byte trie (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct NumberGrammar {
    nodes: Vec<Node>,
    /// Whether digit groups are allowed besides the words.
    digits: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Node {
    children: BTreeMap<u8, u32>,
    /// A word ends here.
    terminal: bool,
}

/// Where the automaton is after some text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrammarState {
    /// Between words (0 at the start), with flags of what was written since the last
    /// word: a punctuation mark, spaces (see the `PUNCT`, `SPACE`… constants).
    Boundary(u8),
    /// Inside a word, at this trie node.
    Word(u32),
    /// Inside a group of this many digits.
    Digits(u8),
    /// The text left the grammar.
    Dead,
}

impl GrammarState {
    /// The state before any text.
    pub const START: GrammarState = GrammarState::Boundary(0);
}

impl NumberGrammar {
    /// Builds the grammar from words (any case; each is allowed lowercase and with a
    /// capital first letter; `ё` is also allowed as `е`). Words with characters other
    /// than letters are split at them.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut g = NumberGrammar {
            nodes: vec![Node::default()],
            digits: true,
        };
        for w in words {
            for part in w
                .as_ref()
                .split(|c: char| !c.is_alphabetic())
                .filter(|p| !p.is_empty())
            {
                let lower = part.to_lowercase();
                let folded = lower.replace('ё', "е");
                for form in [lower, folded] {
                    let mut cap = String::with_capacity(form.len());
                    let mut chars = form.chars();
                    if let Some(first) = chars.next() {
                        cap.extend(first.to_uppercase());
                        cap.push_str(chars.as_str());
                    }
                    g.insert(&form);
                    g.insert(&cap);
                }
            }
        }
        g
    }

    fn insert(&mut self, word: &str) {
        let mut at = 0usize;
        for &b in word.as_bytes() {
            let next = match self.nodes[at].children.get(&b) {
                Some(&n) => n as usize,
                None => {
                    self.nodes.push(Node::default());
                    let n = self.nodes.len() - 1;
                    self.nodes[at].children.insert(b, n as u32);
                    n
                }
            };
            at = next;
        }
        self.nodes[at].terminal = true;
    }

    /// The same grammar without digit groups: numbers must be written in words. Whisper
    /// writes a spoken compound number in digits by joining what it heard
    /// («сто девяносто девять» as `100 999`, «сто семьдесят девять» as `1709`); in words
    /// each spoken word stays one written word.
    pub fn words_only(mut self) -> Self {
        self.digits = false;
        self
    }

    /// Trie nodes in the grammar; for logs.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The state after one more byte.
    pub fn step(&self, state: GrammarState, b: u8) -> GrammarState {
        use GrammarState::*;
        let space = b == b' ';
        let punct = !space && SEPARATORS.contains(&b);
        let digit = b.is_ascii_digit();
        match state {
            Dead => Dead,
            Boundary(seen) => {
                // Between words: at most one punctuation mark and one space around it
                // (`" "`, `", "`, `"-"`, `" - "`), so the grammar cannot fill time with
                // «---», «...» or runs of spaces.
                let last_space = seen & LAST_SPACE != 0;
                if space {
                    let spaces = (seen & SPACE != 0) as u8 + (seen & SPACE2 != 0) as u8;
                    if last_space || spaces == 2 || (spaces == 1 && seen & PUNCT == 0) {
                        Dead
                    } else if spaces == 0 {
                        Boundary(seen | SPACE | LAST_SPACE)
                    } else {
                        Boundary(seen | SPACE2 | LAST_SPACE)
                    }
                } else if punct {
                    if seen & PUNCT != 0 || seen & AFTER == 0 {
                        Dead
                    } else {
                        Boundary((seen | PUNCT) & !LAST_SPACE)
                    }
                } else if digit {
                    if self.digits {
                        Digits(1)
                    } else {
                        Dead
                    }
                } else {
                    self.child(0, b)
                }
            }
            Word(node) => {
                if space || punct {
                    if self.nodes[node as usize].terminal {
                        Boundary(if space {
                            SPACE | LAST_SPACE | AFTER
                        } else {
                            PUNCT | AFTER
                        })
                    } else {
                        Dead
                    }
                } else if digit {
                    Dead
                } else {
                    self.child(node, b)
                }
            }
            Digits(n) => {
                if space || punct {
                    Boundary(if space {
                        SPACE | LAST_SPACE | AFTER
                    } else {
                        PUNCT | AFTER
                    })
                } else if digit {
                    if n < MAX_DIGITS {
                        Digits(n + 1)
                    } else {
                        Dead
                    }
                } else {
                    Dead
                }
            }
        }
    }

    fn child(&self, node: u32, b: u8) -> GrammarState {
        match self.nodes[node as usize].children.get(&b) {
            Some(&n) => GrammarState::Word(n),
            None => GrammarState::Dead,
        }
    }

    /// The state after `bytes`.
    pub fn run(&self, mut state: GrammarState, bytes: &[u8]) -> GrammarState {
        for &b in bytes {
            state = self.step(state, b);
            if state == GrammarState::Dead {
                break;
            }
        }
        state
    }

    /// Whether the text may end in `state`: between words, after a digit group or at the
    /// end of a whole word.
    pub fn can_end(&self, state: GrammarState) -> bool {
        match state {
            GrammarState::Boundary(seen) => seen & AFTER != 0,
            GrammarState::Digits(_) => true,
            GrammarState::Word(n) => self.nodes[n as usize].terminal,
            GrammarState::Dead => false,
        }
    }

    /// Whether the whole of `text` is in the grammar.
    pub fn accepts(&self, text: &str) -> bool {
        let s = self.run(GrammarState::START, text.as_bytes());
        self.can_end(s)
    }
}

/// The grammar applied to one model's vocabulary: the bytes of every token, and the
/// end-of-text token.
#[derive(Clone, Debug)]
pub struct Constraint {
    grammar: NumberGrammar,
    /// Bytes of each text token, by token id (ids below `eot`).
    token_bytes: Vec<Box<[u8]>>,
    /// Whisper's end-of-text token id; ids from it up are special tokens.
    eot: usize,
    /// Tokens in the model's vocabulary (logits per step).
    n_vocab: usize,
    /// The text tokens as a byte trie, walked together with the grammar so that a step
    /// visits only the tokens the grammar could allow, not the whole vocabulary.
    tokens: TokenTrie,
}

/// Text tokens by their bytes.
#[derive(Clone, Debug, Default)]
struct TokenTrie {
    nodes: Vec<TokenNode>,
}

#[derive(Clone, Debug, Default)]
struct TokenNode {
    /// (byte, child node), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Tokens whose bytes end here.
    ends: Vec<u32>,
}

impl TokenTrie {
    fn new(token_bytes: &[Box<[u8]>]) -> Self {
        let mut t = TokenTrie {
            nodes: vec![TokenNode::default()],
        };
        for (id, bytes) in token_bytes.iter().enumerate() {
            if bytes.is_empty() {
                continue;
            }
            let mut at = 0usize;
            for &b in bytes.iter() {
                at = match t.nodes[at].children.binary_search_by_key(&b, |c| c.0) {
                    Ok(i) => t.nodes[at].children[i].1 as usize,
                    Err(i) => {
                        t.nodes.push(TokenNode::default());
                        let n = t.nodes.len() - 1;
                        t.nodes[at].children.insert(i, (b, n as u32));
                        n
                    }
                };
            }
            t.nodes[at].ends.push(id as u32);
        }
        t
    }
}

impl Constraint {
    /// `token_bytes[id]` is the text of token `id` for every id below `eot` (Whisper's
    /// end-of-text token; ids from it up to `n_vocab` are special tokens).
    pub fn new(
        grammar: NumberGrammar,
        token_bytes: Vec<Box<[u8]>>,
        eot: usize,
        n_vocab: usize,
    ) -> Self {
        let tokens = TokenTrie::new(&token_bytes[..token_bytes.len().min(eot)]);
        Constraint {
            grammar,
            token_bytes,
            eot,
            n_vocab: n_vocab.max(eot + 1),
            tokens,
        }
    }

    /// Marks in `allowed` every token the grammar allows from `state`: a walk of the
    /// token trie that stops where the grammar dies.
    fn mark_allowed(&self, node: usize, state: GrammarState, allowed: &mut [bool]) {
        let n = &self.tokens.nodes[node];
        for &id in &n.ends {
            if let Some(a) = allowed.get_mut(id as usize) {
                *a = true;
            }
        }
        for &(b, child) in &n.children {
            let next = self.grammar.step(state, b);
            if next != GrammarState::Dead {
                self.mark_allowed(child as usize, next, allowed);
            }
        }
    }

    /// Builds the constraint for a loaded Whisper model.
    pub fn for_model(grammar: NumberGrammar, ctx: &whisper_rs::WhisperContext) -> Self {
        let eot = ctx.token_eot().max(0) as usize;
        let token_bytes = (0..eot)
            .map(|id| {
                ctx.token_to_bytes(id as i32)
                    .map(Box::from)
                    .unwrap_or_default()
            })
            .collect();
        Constraint::new(grammar, token_bytes, eot, ctx.n_vocab().max(0) as usize)
    }

    /// The grammar.
    pub fn grammar(&self) -> &NumberGrammar {
        &self.grammar
    }

    /// The state after the tokens decoded so far (special tokens are skipped).
    pub fn state_after(&self, tokens: impl IntoIterator<Item = usize>) -> GrammarState {
        let mut s = GrammarState::START;
        for t in tokens {
            if let Some(b) = self.token_bytes.get(t).filter(|_| t < self.eot) {
                s = self.grammar.run(s, b);
            }
        }
        s
    }

    /// Masks `logits` (one per vocabulary token, already filtered by whisper.cpp) for the
    /// next token after `decoded` (ids of the tokens decoded so far): a token that would
    /// leave the grammar gets −∞; end-of-text is allowed once the text may end. Returns
    /// the probability mass (0..1) the unmasked distribution gave to the allowed tokens.
    ///
    /// When the grammar is already left (it cannot be, unless the model was given a
    /// forced prefix) or nothing would be allowed, only end-of-text stays.
    pub fn apply(&self, decoded: &[usize], logits: &mut [f32]) -> f32 {
        let state = self.state_after(decoded.iter().copied());
        let before = log_sum_exp(logits);
        let eot_ok =
            state == GrammarState::Dead || (!decoded.is_empty() && self.grammar.can_end(state));
        let mut text_ok = vec![false; self.eot];
        if state != GrammarState::Dead {
            self.mark_allowed(0, state, &mut text_ok);
        }
        let mut any = false;
        for (id, l) in logits.iter_mut().enumerate() {
            if *l == f32::NEG_INFINITY {
                continue;
            }
            let allowed = if id < self.eot {
                text_ok[id]
            } else {
                id == self.eot && eot_ok
            };
            if allowed {
                any = true;
            } else {
                *l = f32::NEG_INFINITY;
            }
        }
        if !any {
            if let Some(l) = logits.get_mut(self.eot) {
                *l = 0.0;
            }
            return 0.0;
        }
        let after = log_sum_exp(logits);
        if before.is_finite() && after.is_finite() {
            (after - before).exp().clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// One `whisper_full` run under a [`Constraint`]: what the logits filter callback gets
/// as its user data. Collects the kept mass of every decoder step, in order.
pub(crate) struct FilterRun<'a> {
    pub(crate) constraint: &'a Constraint,
    /// Kept mass per decoder step (step k chose the k-th token of the text).
    pub(crate) masses: std::sync::Mutex<Vec<f32>>,
}

/// whisper.cpp's logits filter callback (`whisper_logits_filter_callback`): applies the
/// run's [`Constraint`] to the logits of the next token.
#[allow(unsafe_code)] // FFI callback from whisper.cpp; the safety of each pointer is stated below.
pub(crate) unsafe extern "C" fn filter_logits(
    _ctx: *mut whisper_rs::WhisperSysContext,
    _state: *mut whisper_rs::WhisperSysState,
    tokens: *const whisper_rs::WhisperTokenData,
    n_tokens: std::ffi::c_int,
    logits: *mut f32,
    user_data: *mut std::ffi::c_void,
) {
    if user_data.is_null() || logits.is_null() {
        return;
    }
    // SAFETY: `user_data` is the `FilterRun` that `decode` keeps alive (on its stack)
    // for the whole `whisper_full` call that invokes this callback; it is only read
    // through a shared reference (the masses sit behind a Mutex).
    let run = unsafe { &*(user_data as *const FilterRun<'_>) };
    let n_vocab = run.constraint.n_vocab;
    // SAFETY: whisper.cpp passes the decoder's `n_logits` = n_vocab logits of the
    // model the constraint was built from, and `n_tokens` token records, both valid for
    // the duration of the call.
    let logits = unsafe { std::slice::from_raw_parts_mut(logits, n_vocab) };
    let decoded: Vec<usize> = if tokens.is_null() || n_tokens <= 0 {
        Vec::new()
    } else {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(tokens, n_tokens as usize) }
            .iter()
            .map(|t| t.id.max(0) as usize)
            .collect()
    };
    let mass = run.constraint.apply(&decoded, logits);
    if let Ok(mut m) = run.masses.lock() {
        m.push(mass);
    }
}

/// ln Σ exp(xᵢ) over the finite entries; −∞ when there are none.
fn log_sum_exp(xs: &[f32]) -> f32 {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    let sum: f32 = xs
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| (x - max).exp())
        .sum();
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> NumberGrammar {
        NumberGrammar::new([
            "сорок",
            "пять",
            "тысяча",
            "сто",
            "квартира",
            "ну",
            "четырёх",
        ])
    }

    #[test]
    fn accepts_words_digits_mixed_and_punctuation() {
        let g = g();
        for ok in [
            " Сорок пять.",
            "сорок пять",
            " 45.",
            " Тысяча 178.",
            " Квартира, 40 5",
            " Ну, сто - пять!",
            " четырех",
            " Четырёх",
        ] {
            assert!(g.accepts(ok), "{ok:?}");
        }
        for bad in [
            " Ты сейчас",
            " сорокпять",
            " 1234567",
            " 45а",
            " сорок....",
            " сорок---пять",
            " сорок  пять",
            ", сорок",
            "",
            " сор",
        ] {
            assert!(!g.accepts(bad), "{bad:?}");
        }
    }

    #[test]
    fn words_only_refuses_digits() {
        let g = g().words_only();
        assert!(g.accepts(" Сорок пять."));
        assert!(!g.accepts(" 45"));
        assert!(!g.accepts(" Тысяча 178."));
    }

    #[test]
    fn a_token_may_end_in_the_middle_of_a_cyrillic_letter() {
        let g = g();
        let bytes = " Сорок".as_bytes();
        // « Сор» and the first byte of «о»: still on the way to «Сорок».
        let half = g.run(GrammarState::START, &bytes[..6]);
        assert!(matches!(half, GrammarState::Word(_)));
        assert!(!g.can_end(half));
        assert!(g.can_end(g.run(half, &bytes[6..])));
    }

    /// A toy vocabulary: the constraint masks what leaves the grammar, allows the end
    /// only after a whole word, and reports the mass it kept.
    #[test]
    fn masks_tokens_that_leave_the_grammar_and_reports_the_kept_mass() {
        let vocab: Vec<&str> = vec![" Ты", " сейчас", " Сор", "ок", " пять", " 45", ".", "сяча"];
        let bytes: Vec<Box<[u8]>> = vocab.iter().map(|s| s.as_bytes().into()).collect();
        let eot = vocab.len();
        let c = Constraint::new(g(), bytes, eot, eot + 1);
        // Equal logits for the 7 tokens and end-of-text.
        let mut logits = vec![0.0f32; eot + 1];
        let mass = c.apply(&[], &mut logits);
        let allowed: Vec<usize> = (0..logits.len())
            .filter(|&i| logits[i].is_finite())
            .collect();
        // « Ты» may be the start of «Тысяча»; « сейчас» leaves the grammar; «ок» glues
        // to nothing; neither punctuation nor end-of-text may come first.
        assert_eq!(allowed, vec![0, 2, 4, 5]);
        assert!((mass - 4.0 / 9.0).abs() < 1e-5, "{mass}");
        // «Ты сейчас» (Whisper's «тысяча» on a bad line) cannot be written: after « Ты»
        // no whole word has ended, so neither « сейчас» nor the end may follow.
        let mut logits = vec![0.0f32; eot + 1];
        c.apply(&[0], &mut logits);
        let allowed: Vec<usize> = (0..logits.len())
            .filter(|&i| logits[i].is_finite())
            .collect();
        assert_eq!(allowed, vec![7]);
        // After « Сор» only «ок» may follow; the end is not allowed mid-word.
        let mut logits = vec![0.0f32; eot + 1];
        c.apply(&[2], &mut logits);
        let allowed: Vec<usize> = (0..logits.len())
            .filter(|&i| logits[i].is_finite())
            .collect();
        assert_eq!(allowed, vec![3]);
        // After « Сорок» the end is allowed.
        let mut logits = vec![0.0f32; eot + 1];
        c.apply(&[2, 3], &mut logits);
        assert!(logits[eot].is_finite());
        assert!(logits[3].is_infinite() && logits[7].is_infinite());
    }
}
