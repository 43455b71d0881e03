//! Dialogue state per chat: what the bot is waiting for. Stored in Postgres with an
//! expiry (`bot::states`), so it survives Lambda cold starts and Redis outages and is
//! forgotten when a shopper walks away.

use crate::t;
use crate::texts::TextKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DialogueState {
    #[default]
    Idle,
    AwaitingName,
    AwaitingPhone {
        name: String,
    },
    /// The phone is stored; registration completes once the shopper has joined the
    /// required channel (optional setting).
    AwaitingSubscription,
    /// The shopper pressed "upload receipt": a photo, an image file or the QR text is next.
    AwaitingReceipt,
    /// Typing a receipt's printed fields one by one (its QR could not be read).
    ManualReceipt {
        step: super::manual::ManualStep,
        #[serde(default)]
        fields: super::manual::ManualFields,
    },
    /// A winner answering the tax agent's questions; the answers so far are sealed
    /// (base64 of the documents key's ciphertext, bound to the winner row).
    ClaimDocuments {
        winner_id: i64,
        step: super::claim::DocumentStep,
        #[serde(default)]
        sealed: Option<String>,
    },
}

/// Shortest and longest name accepted, in characters.
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 2..=100;

/// Why a typed name was refused; each reason has its own text for the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name needs at least {} characters", NAME_CHARS.start())]
    TooShort,
    #[error("a name has at most {} characters", NAME_CHARS.end())]
    TooLong,
    #[error("a name has no digits")]
    Digits,
    /// Looks like HTML (`<b>Bob</b>`); `suggestion` is the text without the tags when
    /// that is a valid name, so the shopper can simply send it.
    #[error("a name has no markup")]
    Markup { suggestion: Option<String> },
    /// Characters that are not part of any name (emoji, `@`, `/`...), each listed once.
    #[error("a name cannot contain {0}")]
    Symbols(String),
    #[error("a name needs letters")]
    NoLetters,
}

impl NameError {
    /// Key of the text explaining this reason.
    pub fn text_key(&self) -> TextKey {
        match self {
            NameError::TooShort => t!("name_too_short"),
            NameError::TooLong => t!("name_too_long"),
            NameError::Digits => t!("name_digits"),
            NameError::Markup { .. } => t!("name_markup"),
            NameError::Symbols(_) => t!("name_symbols"),
            NameError::NoLetters => t!("name_no_letters"),
        }
    }
}

/// At most this many distinct offending characters are named back to the shopper.
const SYMBOLS_SHOWN: usize = 5;

/// Names are what people type: letters in any script, spaces, hyphens, apostrophes and
/// dots (initials). Commands and links are refused so they cannot end up on a winners
/// list. The error says exactly why, checked from the most telling reason down: markup,
/// digits, other symbols, no letters at all, then the length.
pub fn validate_name(input: &str) -> Result<String, NameError> {
    let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if looks_like_markup(&collapsed) {
        let suggestion = strip_tags(&collapsed);
        let suggestion = validate_name(&suggestion).ok();
        return Err(NameError::Markup { suggestion });
    }
    if collapsed.chars().any(char::is_numeric) {
        return Err(NameError::Digits);
    }
    let mut symbols: Vec<char> = Vec::new();
    for c in collapsed.chars().filter(|c| !is_name_char(*c)) {
        if !symbols.contains(&c) {
            symbols.push(c);
        }
    }
    if !symbols.is_empty() {
        let shown: Vec<String> = symbols
            .iter()
            .take(SYMBOLS_SHOWN)
            .map(|c| format!("«{c}»"))
            .collect();
        return Err(NameError::Symbols(shown.join(" ")));
    }
    if !collapsed.chars().any(char::is_alphabetic) {
        return Err(NameError::NoLetters);
    }
    let len = collapsed.chars().count();
    if len < *NAME_CHARS.start() {
        return Err(NameError::TooShort);
    }
    if len > *NAME_CHARS.end() {
        return Err(NameError::TooLong);
    }
    Ok(collapsed)
}

fn is_name_char(c: char) -> bool {
    // Combining marks belong to letters written in decomposed form (й as и + ̆).
    c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’' | '\u{300}'..='\u{36f}')
}

/// `<b>`, `</i>`, `<a href=…>`: a `<` followed by a tag name and a closing `>`.
fn looks_like_markup(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = &text[at + 1..];
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        rest.starts_with(|c: char| c.is_ascii_alphabetic()) && rest.contains('>')
    })
}

/// The text between the tags, tidied.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_between_two_and_a_hundred_letters_are_accepted_and_tidied() {
        assert_eq!(validate_name("  Иван   Петров "), Ok("Иван Петров".into()));
        assert_eq!(validate_name("Jo"), Ok("Jo".into()));
        assert_eq!(
            validate_name("Анна-Мария О'Нил"),
            Ok("Анна-Мария О'Нил".into())
        );
        assert_eq!(
            validate_name("J. R. R. Tolkien"),
            Ok("J. R. R. Tolkien".into())
        );
        assert!(validate_name(&"я".repeat(100)).is_ok());
    }

    #[test]
    fn every_refused_name_says_the_real_reason() {
        assert_eq!(validate_name("Я"), Err(NameError::TooShort));
        assert_eq!(validate_name(&"я".repeat(101)), Err(NameError::TooLong));
        assert_eq!(validate_name("12345"), Err(NameError::Digits));
        assert_eq!(validate_name("Иван2"), Err(NameError::Digits));
        assert_eq!(
            validate_name("<b>Bob</b>"),
            Err(NameError::Markup {
                suggestion: Some("Bob".into())
            })
        );
        assert_eq!(
            validate_name("<i></i>"),
            Err(NameError::Markup { suggestion: None })
        );
        assert_eq!(
            validate_name("🙂🙂🙂"),
            Err(NameError::Symbols("«🙂»".into()))
        );
        assert_eq!(
            validate_name("Bob <3"),
            Err(NameError::Digits),
            "a heart is no tag"
        );
        assert_eq!(
            validate_name("http://x.ru"),
            Err(NameError::Symbols("«:» «/»".into()))
        );
        assert_eq!(
            validate_name("/start"),
            Err(NameError::Symbols("«/»".into()))
        );
        assert_eq!(validate_name("- -"), Err(NameError::NoLetters));
        assert_eq!(validate_name("   "), Err(NameError::NoLetters));
    }

    #[test]
    fn states_round_trip_through_json() {
        for state in [
            DialogueState::AwaitingPhone {
                name: "Иван".into(),
            },
            DialogueState::AwaitingSubscription,
            DialogueState::AwaitingReceipt,
        ] {
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(
                serde_json::from_str::<DialogueState>(&json).ok(),
                Some(state)
            );
        }
        assert_eq!(
            serde_json::to_string(&DialogueState::AwaitingReceipt).unwrap_or_default(),
            r#"{"state":"awaiting_receipt"}"#
        );
    }
}
