//! Builders for realistic webhook `Update`s (text, contact, photo, document, button tap, block/unblock).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::state::now_unix;
use super::{DEFAULT_BOT_ID, DEFAULT_BOT_USERNAME};

/// First name of every simulated user: Cyrillic on purpose, so escaping bugs surface.
pub(crate) const FIRST_NAME: &str = "Иван";

// Shared by every fake in the process, so ids never repeat even across parallel tests.
// The bot remembers processed update ids in its database, which outlives this process:
// a restarted sandbox on the same database must not hand out ids the bot has already
// seen (it would drop them as Telegram retries). Starting from the clock in microseconds
// keeps every later process above every earlier one unless an earlier one issued more
// than a million updates per second; the values stay below 2^52 like Telegram's ids.
static NEXT_UPDATE_ID: LazyLock<AtomicI64> =
    LazyLock::new(|| AtomicI64::new(first_update_id(SystemTime::now())));
static NEXT_MESSAGE_ID: AtomicI64 = AtomicI64::new(1_000_001);
static NEXT_CALLBACK_ID: AtomicI64 = AtomicI64::new(1);

/// Builders for the updates a promo bot receives, shaped like the real Bot API sends them.
///
/// Every call takes a fresh `update_id`. Messages from users take `message_id`s from a
/// process-wide counter starting at 1 000 001, far above what the fake hands out for the
/// bot's own messages in a test.
pub struct Updates;

impl Updates {
    /// A text message; a leading `/command` gets its `bot_command` entity like on Telegram.
    pub fn text(user_id: i64, text: &str) -> Value {
        let mut message = message(user_id);
        message["text"] = Value::from(text);
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or(text);
            let length: usize = command.encode_utf16().count();
            message["entities"] = json!([{ "offset": 0, "length": length, "type": "bot_command" }]);
        }
        update("message", message)
    }

    /// A shared contact. `contact_user_id` is `Some(user_id)` when users share their own phone
    /// with the request-contact button, another id (or `None`) for a forwarded contact.
    pub fn contact(user_id: i64, phone: &str, contact_user_id: Option<i64>) -> Value {
        let mut message = message(user_id);
        let mut contact = json!({ "phone_number": phone, "first_name": FIRST_NAME });
        if let Some(id) = contact_user_id {
            contact["user_id"] = Value::from(id);
        }
        message["contact"] = contact;
        update("message", message)
    }

    /// A compressed photo. Telegram sends several sizes; this adds a 90 px thumbnail (with an
    /// id the fake does not know) before the given size, so picking the wrong one fails.
    pub fn photo(user_id: i64, file_id: &str, width: u32, height: u32, file_size: u64) -> Value {
        let mut sizes = Vec::new();
        let longest = width.max(height);
        if longest > 90 {
            let scale = 90.0 / f64::from(longest);
            // Both sides shrink by the same factor ≤ 1, so they still fit in u32.
            let shrink = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
            sizes.push(json!({
                "file_id": format!("{file_id}_thumb"),
                "file_unique_id": format!("AQADthumb{}", unique_suffix(file_id)),
                "width": shrink(width),
                "height": shrink(height),
                "file_size": (file_size / 100).max(1),
            }));
        }
        sizes.push(json!({
            "file_id": file_id,
            "file_unique_id": format!("AQAD{}", unique_suffix(file_id)),
            "width": width,
            "height": height,
            "file_size": file_size,
        }));
        let mut message = message(user_id);
        message["photo"] = Value::Array(sizes);
        update("message", message)
    }

    /// An uncompressed file, e.g. a receipt photo sent "as file" to keep the QR sharp.
    pub fn document(user_id: i64, file_id: &str, mime_type: &str, file_size: u64) -> Value {
        let extension = match mime_type {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "application/pdf" => "pdf",
            _ => "bin",
        };
        let mut message = message(user_id);
        message["document"] = json!({
            "file_name": format!("IMG_{}.{extension}", unique_suffix(file_id)),
            "mime_type": mime_type,
            "file_id": file_id,
            "file_unique_id": format!("AQAD{}", unique_suffix(file_id)),
            "file_size": file_size,
        });
        update("message", message)
    }

    /// A tap on an inline button of the bot's message `message_id`. When delivered through
    /// `FakeTelegram`, the embedded message is replaced by the one the fake actually stored.
    pub fn callback(user_id: i64, data: &str, message_id: i64) -> Value {
        let id = NEXT_CALLBACK_ID.fetch_add(1, Ordering::Relaxed);
        update(
            "callback_query",
            json!({
                "id": format!("{}{id:08}", user_id.unsigned_abs()),
                "from": user(user_id),
                "chat_instance": format!("-{}", 4_000_000_000_000_000_000_u64 + user_id.unsigned_abs()),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "from": {
                        "id": DEFAULT_BOT_ID,
                        "is_bot": true,
                        "first_name": "Promo Test Bot",
                        "username": DEFAULT_BOT_USERNAME,
                    },
                    "chat": chat(user_id),
                    "date": now_unix(),
                    "text": "…",
                },
            }),
        )
    }

    /// The user blocked (`"member"` → `"kicked"`) or restarted (`"kicked"` → `"member"`) the bot.
    pub fn my_chat_member(user_id: i64, old_status: &str, new_status: &str) -> Value {
        let bot = json!({
            "id": DEFAULT_BOT_ID,
            "is_bot": true,
            "first_name": "Promo Test Bot",
            "username": DEFAULT_BOT_USERNAME,
        });
        let member = |status: &str| {
            let mut member = json!({ "user": bot, "status": status });
            if status == "kicked" {
                member["until_date"] = Value::from(0);
            }
            member
        };
        update(
            "my_chat_member",
            json!({
                "chat": chat(user_id),
                "from": user(user_id),
                "date": now_unix(),
                "old_chat_member": member(old_status),
                "new_chat_member": member(new_status),
            }),
        )
    }
}

/// Where a process started at `now` begins numbering updates.
fn first_update_id(now: SystemTime) -> i64 {
    let micros = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    i64::try_from(micros).unwrap_or(i64::MAX / 2)
}

fn update(kind: &str, payload: Value) -> Value {
    let update_id = NEXT_UPDATE_ID.fetch_add(1, Ordering::Relaxed);
    json!({ "update_id": update_id, kind: payload })
}

fn user(user_id: i64) -> Value {
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": FIRST_NAME,
        "language_code": "ru",
    })
}

fn chat(user_id: i64) -> Value {
    json!({ "id": user_id, "type": "private", "first_name": FIRST_NAME })
}

fn message(user_id: i64) -> Value {
    json!({
        "message_id": NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed),
        "from": user(user_id),
        "chat": chat(user_id),
        "date": now_unix(),
    })
}

fn unique_suffix(file_id: &str) -> String {
    file_id
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_ids_grow_by_one_and_commands_get_an_entity() {
        let first = Updates::text(42, "/start ref_1");
        let second = Updates::text(42, "привет");
        let first_id = first["update_id"].as_i64().unwrap_or_default();
        assert!(second["update_id"].as_i64().unwrap_or_default() > first_id);
        assert_eq!(
            first["message"]["entities"],
            json!([{ "offset": 0, "length": 6, "type": "bot_command" }])
        );
        assert!(second["message"].get("entities").is_none());
        assert_eq!(second["message"]["from"]["language_code"], "ru");
    }

    #[test]
    fn a_process_started_later_numbers_its_updates_above_an_earlier_busy_one() {
        let earlier = SystemTime::now();
        let later = earlier + std::time::Duration::from_secs(1);
        // The earlier process sent 100 000 updates in the second before the restart.
        let earlier_last = first_update_id(earlier) + 100_000;
        assert!(first_update_id(later) > earlier_last);
        assert!(
            first_update_id(later) < 1_i64 << 52,
            "fits Telegram's 52-bit ids"
        );
    }

    #[test]
    fn updates_of_this_process_are_numbered_after_its_start_time() {
        let before = first_update_id(SystemTime::now());
        let id = Updates::text(42, "/start")["update_id"]
            .as_i64()
            .unwrap_or_default();
        // The counter may have started a little earlier in this test binary, never long before.
        assert!(
            id > before - 600_000_000,
            "{id} is not derived from the clock"
        );
    }

    #[test]
    fn photo_updates_list_a_thumbnail_before_the_full_size() {
        let update = Updates::photo(42, "AgACAgIAAxkBAAIBcdefghijkl", 1280, 960, 98_000);
        let sizes = update["message"]["photo"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(sizes.len(), 2);
        assert_eq!(sizes[0]["width"], json!(90));
        assert_eq!(sizes[0]["height"], json!(68));
        assert_eq!(sizes[1]["file_id"], "AgACAgIAAxkBAAIBcdefghijkl");
    }
}
