//! What a broadcast or single message says: `campaigns.content` parsed, checked against
//! Telegram's limits, and rendered as the Bot API call for one recipient. Pure, no I/O.

use serde::Deserialize;
use serde_json::Value;

use crate::telegram::{InlineKeyboardButton, OutgoingMessage, ReplyMarkup, SendMessage};

const TEXT_LIMIT: usize = 4096;
/// A photo that is one of the bot's uploads: `upload:<id>` (see `crate::uploads`).
pub use crate::uploads::PHOTO_PREFIX as UPLOAD_PHOTO_PREFIX;
const CAPTION_LIMIT: usize = 1024;

/// Message content of a broadcast or single message, as stored in `campaigns.content`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CampaignContent {
    /// The message, or the caption when there is a photo.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub parse_mode: Option<String>,
    #[serde(default)]
    pub button: Option<UrlButton>,
    /// A photo as an http(s) URL (Telegram fetches it), a Telegram `file_id`, or one of
    /// the bot's uploads as `upload:<id>` (the runner sends its bytes).
    #[serde(default)]
    pub photo: Option<String>,
    /// The `file_id` Telegram gave the URL or uploaded photo on its first send; the runner
    /// stores it so every other recipient gets the same file without another transfer.
    #[serde(default)]
    pub photo_file_id: Option<String>,
}

/// An inline button opening a URL under the message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UrlButton {
    pub text: String,
    pub url: String,
}

impl CampaignContent {
    /// Parses and validates `campaigns.content`; the error is shown to the operator.
    pub fn parse(content: &Value) -> Result<Self, String> {
        let content: CampaignContent = serde_json::from_value(content.clone())
            .map_err(|e| format!("content is not valid: {e}"))?;
        let length = content.text.chars().count();
        match &content.photo {
            Some(photo) if photo.trim().is_empty() => {
                return Err("photo must be a URL, a file_id or upload:<id>".into())
            }
            Some(photo) if photo.starts_with(UPLOAD_PHOTO_PREFIX) && upload_id(photo).is_none() => {
                return Err(format!("photo {photo:?} is not upload:<id>"))
            }
            Some(_) if length > CAPTION_LIMIT => {
                return Err(format!(
                    "a caption has at most {CAPTION_LIMIT} characters, this one {length}"
                ));
            }
            Some(_) => {}
            None if content.text.trim().is_empty() || length > TEXT_LIMIT => {
                return Err(format!(
                    "text must have 1..{TEXT_LIMIT} characters, has {length}"
                ));
            }
            None => {}
        }
        if let Some(mode) = &content.parse_mode {
            if parse_mode(mode).is_none() {
                return Err(format!("unknown parse_mode {mode:?}"));
            }
        }
        if let Some(button) = &content.button {
            let scheme_ok = ["https://", "http://", "tg://"]
                .iter()
                .any(|scheme| button.url.starts_with(scheme));
            if button.text.trim().is_empty() || !scheme_ok {
                return Err("the button needs a text and an http(s) or tg:// url".into());
            }
        }
        Ok(content)
    }

    /// The content with its text's placeholders filled from `vars` (an object of strings
    /// and numbers), for one recipient.
    pub fn personalized(&self, vars: &Value) -> CampaignContent {
        let values: Vec<(String, String)> = vars
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(name, value)| {
                        let value = match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        (name.clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let args: Vec<(&str, &str)> = values
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        // A filled-in name or title can take a text past Telegram's limit, which the
        // template itself was checked against: cut it rather than have the send refused.
        let limit = if self.photo.is_some() {
            CAPTION_LIMIT
        } else {
            TEXT_LIMIT
        };
        let mut text = crate::texts::render_template(&self.text, &args);
        if text.chars().count() > limit {
            text = text.chars().take(limit - 1).collect::<String>() + "…";
        }
        CampaignContent {
            text,
            ..self.clone()
        }
    }

    /// The `sendMessage` call for one chat.
    pub fn message(&self, chat_id: i64, paid_broadcast: bool) -> SendMessage {
        let mut message = SendMessage::new(chat_id, self.text.clone());
        message.parse_mode = self.parse_mode.as_deref().and_then(parse_mode);
        if let Some(button) = &self.button {
            message.reply_markup = Some(ReplyMarkup::from(vec![vec![InlineKeyboardButton::url(
                &button.text,
                &button.url,
            )]]));
        }
        message.allow_paid_broadcast = paid_broadcast;
        message
    }

    /// The Bot API method and parameters for one chat: `sendMessage`, or `sendPhoto`
    /// with the text as caption.
    pub fn request(&self, chat_id: i64, paid_broadcast: bool) -> OutgoingMessage {
        let message = self.message(chat_id, paid_broadcast);
        let Some(photo) = &self.photo else {
            return OutgoingMessage::Send(message);
        };
        let mut params = serde_json::to_value(&message).unwrap_or(Value::Null);
        let Value::Object(map) = &mut params else {
            return OutgoingMessage::Send(message);
        };
        let text = map.remove("text");
        if !self.text.is_empty() {
            map.insert("caption".into(), text.unwrap_or(Value::Null));
        }
        map.remove("link_preview_options");
        let photo = self.photo_file_id.as_ref().unwrap_or(photo);
        map.insert("photo".into(), Value::String(photo.clone()));
        OutgoingMessage::Call {
            method: "sendPhoto",
            params,
        }
    }

    /// Whether the next send transfers the photo (a URL Telegram has not fetched for us
    /// yet, or an upload's bytes): that send goes alone, and its `file_id` serves
    /// everyone after it.
    pub fn needs_upload(&self) -> bool {
        self.photo_file_id.is_none()
            && self.photo.as_ref().is_some_and(|photo| {
                photo.starts_with("https://")
                    || photo.starts_with("http://")
                    || photo.starts_with(UPLOAD_PHOTO_PREFIX)
            })
    }

    /// The upload the photo is, when it is one.
    pub fn upload_id(&self) -> Option<i64> {
        self.photo.as_deref().and_then(upload_id)
    }
}

pub use crate::uploads::photo_upload_id as upload_id;

/// The `file_id` of the largest size of the photo in a sent message.
pub(super) fn largest_photo_file_id(message: &Value) -> Option<String> {
    message
        .get("photo")?
        .as_array()?
        .iter()
        .max_by_key(|size| {
            let side = |key: &str| size.get(key).and_then(Value::as_i64).unwrap_or(0);
            side("width") * side("height")
        })?
        .get("file_id")?
        .as_str()
        .map(str::to_owned)
}

fn parse_mode(mode: &str) -> Option<&'static str> {
    match mode {
        "HTML" => Some("HTML"),
        "MarkdownV2" => Some("MarkdownV2"),
        "Markdown" => Some("Markdown"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personalized_text_is_filled_once_and_cut_to_telegrams_limit() {
        let content = CampaignContent::parse(&serde_json::json!({
            "text": "{name}: {tickets|билет|билета|билетов}",
            "photo": "upload:3"
        }))
        .expect("valid");
        let one = content.personalized(&serde_json::json!({"name": "{tickets}", "tickets": 2}));
        assert_eq!(one.text, "{tickets}: 2 билета");
        let long =
            content.personalized(&serde_json::json!({"name": "я".repeat(2000), "tickets": 1}));
        assert_eq!(long.text.chars().count(), CAPTION_LIMIT);
        assert!(long.text.ends_with('…'));
    }

    #[test]
    fn content_is_validated_and_rendered_with_button_and_paid_flag() {
        let content = CampaignContent::parse(&serde_json::json!({
            "text": "<b>Hi</b>", "parse_mode": "HTML",
            "button": {"text": "Open", "url": "https://example.com"}
        }))
        .expect("valid content");
        let message = content.message(42, true);
        assert_eq!(message.parse_mode, Some("HTML"));
        assert!(message.allow_paid_broadcast && message.reply_markup.is_some());
        assert!(CampaignContent::parse(&serde_json::json!({"text": " "})).is_err());
        assert!(
            CampaignContent::parse(&serde_json::json!({"text": "x", "parse_mode": "html"}))
                .is_err()
        );
        assert!(CampaignContent::parse(&serde_json::json!({"photo": " "})).is_err());
        let no_scheme =
            serde_json::json!({"text": "x", "button": {"text": "b", "url": "javascript:1"}});
        assert!(CampaignContent::parse(&no_scheme).is_err());
    }

    #[test]
    fn a_photo_goes_as_send_photo_with_the_text_as_caption_and_its_file_id_once_known() {
        let mut content = CampaignContent::parse(&serde_json::json!({
            "text": "Призы", "photo": "https://example.com/prize.jpg",
            "button": {"text": "Open", "url": "https://example.com"}
        }))
        .expect("valid content");
        assert!(content.needs_upload());
        let request = content.request(7, false);
        let (method, params) = (request.method(), request.params());
        assert_eq!(method, "sendPhoto");
        assert_eq!(params["photo"], "https://example.com/prize.jpg");
        assert_eq!(params["caption"], "Призы");
        assert!(params.get("text").is_none() && params.get("reply_markup").is_some());
        let sent = serde_json::json!({"message_id": 1, "photo": [
            {"file_id": "small", "width": 90, "height": 67},
            {"file_id": "large", "width": 800, "height": 600}
        ]});
        content.photo_file_id = largest_photo_file_id(&sent);
        assert!(!content.needs_upload());
        assert_eq!(content.request(7, false).params()["photo"], "large");
        let upload = CampaignContent::parse(&serde_json::json!({"photo": "upload:12"}))
            .expect("an upload photo");
        assert!(upload.needs_upload() && upload.upload_id() == Some(12));
        for bad in ["upload:", "upload:x", "upload:-3", "upload:0"] {
            assert!(CampaignContent::parse(&serde_json::json!({"photo": bad})).is_err());
        }
        let long_caption = "x".repeat(CAPTION_LIMIT + 1);
        let too_long = serde_json::json!({"text": long_caption, "photo": "AgACAgIAAx"});
        assert!(CampaignContent::parse(&too_long).is_err());
    }
}
