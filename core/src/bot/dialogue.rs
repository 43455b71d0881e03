//! Dialogue state per chat: what the bot is waiting for. Kept in Redis with a TTL so
//! it survives Lambda cold starts and is forgotten when a shopper walks away.

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
}

/// Redis key of a chat's dialogue state (the store adds the bot's prefix).
pub fn key(chat_id: i64) -> String {
    format!("dlg:{chat_id}")
}

/// Names are what people type: letters in any script, spaces, hyphens, apostrophes and
/// dots (initials). Commands and links are refused so they cannot end up on a winners list.
pub fn validate_name(input: &str) -> Option<String> {
    let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let len = collapsed.chars().count();
    let allowed = collapsed
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’'));
    let has_letter = collapsed.chars().any(char::is_alphabetic);
    ((2..=100).contains(&len) && allowed && has_letter).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_between_two_and_a_hundred_letters_are_accepted_and_tidied() {
        assert_eq!(
            validate_name("  Иван   Петров "),
            Some("Иван Петров".into())
        );
        assert_eq!(validate_name("Jo"), Some("Jo".into()));
        assert_eq!(
            validate_name("Анна-Мария О'Нил"),
            Some("Анна-Мария О'Нил".into())
        );
        assert!(validate_name(&"я".repeat(100)).is_some());
    }

    #[test]
    fn too_short_too_long_or_non_name_input_is_refused() {
        assert_eq!(validate_name("Я"), None);
        assert_eq!(validate_name(&"я".repeat(101)), None);
        assert_eq!(validate_name("/start"), None);
        assert_eq!(validate_name("http://x.ru"), None);
        assert_eq!(validate_name("12345"), None);
        assert_eq!(validate_name("- -"), None);
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
