//! What Postgres can store: `text` and `jsonb` refuse U+0000, which Telegram and HTTP
//! callers may send. Input from outside is cleaned here once, at the edge, so no
//! statement deeper in fails on it (and no update is redelivered forever).

use std::borrow::Cow;

use serde_json::Value;

/// The string without NUL characters; borrowed when there were none (the usual case).
pub fn strip_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// Removes NUL characters from every string and object key of a JSON value, in place.
pub fn strip_nul_in_json(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = strip_nul(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nul_in_json),
        Value::Object(map) => {
            if map.keys().any(|key| key.contains('\0')) {
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    strip_nul_in_json(&mut item);
                    map.insert(strip_nul(&key).into_owned(), item);
                }
            } else {
                map.values_mut().for_each(strip_nul_in_json);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_nul_are_borrowed_and_nul_is_removed_everywhere() {
        assert!(matches!(strip_nul("Иван"), Cow::Borrowed("Иван")));
        assert_eq!(strip_nul("Ив\0ан\0"), "Иван");
        let mut value = serde_json::json!({
            "first_name": "A\u{0}b",
            "k\u{0}ey": ["x\u{0}", {"deep": "\u{0}"}],
            "n": 1
        });
        strip_nul_in_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"first_name": "Ab", "key": ["x", {"deep": ""}], "n": 1})
        );
        assert!(!value.to_string().contains("\\u0000"));
    }
}
