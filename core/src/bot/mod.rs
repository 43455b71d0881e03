//! The shopper dialogue: turns one Telegram update into the bot's replies.
//!
//! Handlers return their replies instead of sending them, so the webhook can put a single
//! reply into its HTTP response and tests can assert replies without a server.

pub mod admin;
pub mod dialogue;
pub mod webhook;

use chrono::NaiveDate;
use telegram_bot_raw::{MessageChat, MessageKind};

use crate::app::App;
use crate::pii::Phone;
use crate::telegram::{
    ChatMemberUpdated, KeyboardButton, Message, OutgoingMessage, ReplyKeyboardMarkup, SendMessage,
    UpdateKind,
};
use crate::texts::Lang;
use crate::users::{TelegramProfile, User, UserStatus};
use dialogue::DialogueState;

/// What the shopper sent, reduced to what the dialogue cares about.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    Command(&'a str),
    Text(&'a str),
    Contact {
        phone: &'a str,
        owner: Option<i64>,
    },
    Other,
}

/// Handles one update and returns the replies to send, in order.
pub async fn handle_update(app: &App, kind: &UpdateKind) -> anyhow::Result<Vec<OutgoingMessage>> {
    match kind {
        UpdateKind::Message(message) => handle_message(app, message).await,
        UpdateKind::MyChatMember(change) => {
            handle_membership(app, change).await?;
            Ok(Vec::new())
        }
        UpdateKind::CallbackQuery(query) => Ok(vec![OutgoingMessage::AnswerCallback {
            callback_query_id: callback_query_id(query),
            text: None,
        }]),
        UpdateKind::Unknown { .. } => Ok(Vec::new()),
    }
}

/// telegram-bot-raw keeps the id's string private; its serde form is the string itself.
pub fn callback_query_id(query: &crate::telegram::CallbackQuery) -> String {
    serde_json::to_value(&query.id)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn handle_membership(app: &App, change: &ChatMemberUpdated) -> anyhow::Result<()> {
    if change.chat.kind != "private" {
        return Ok(());
    }
    match change.new_chat_member.status.as_str() {
        "kicked" => app.users.set_reachable(change.from.id, false).await,
        "member" => app.users.set_reachable(change.from.id, true).await,
        _ => Ok(()),
    }
}

async fn handle_message(app: &App, message: &Message) -> anyhow::Result<Vec<OutgoingMessage>> {
    // Groups and channels are not part of the promo: stay silent there.
    let MessageChat::Private(_) = &message.chat else {
        return Ok(Vec::new());
    };
    let chat_id: i64 = message.chat.id().into();
    let from = &message.from;
    let user = app
        .users
        .touch(&TelegramProfile {
            telegram_id: from.id.into(),
            username: from.username.as_deref(),
            first_name: &from.first_name,
            last_name: from.last_name.as_deref(),
            language_code: from.language_code.as_deref(),
        })
        .await?;

    let input = match &message.kind {
        MessageKind::Text { data, .. } if data.starts_with('/') => {
            // `/start@bot payload` → `/start`
            let command = data
                .split_whitespace()
                .next()
                .unwrap_or("")
                .split('@')
                .next()
                .unwrap_or("");
            Input::Command(command)
        }
        MessageKind::Text { data, .. } => Input::Text(data.as_str()),
        MessageKind::Contact { data } => Input::Contact {
            phone: &data.phone_number,
            owner: data.user_id,
        },
        _ => Input::Other,
    };

    let state: DialogueState = app
        .redis
        .get_json(&dialogue::key(chat_id))
        .await?
        .unwrap_or_default();
    let conversation = Conversation {
        app,
        chat_id,
        user: &user,
        lang: user.lang,
    };
    conversation.step(state, input).await
}

pub(crate) struct Conversation<'a> {
    pub(crate) app: &'a App,
    pub(crate) chat_id: i64,
    pub(crate) user: &'a User,
    pub(crate) lang: Lang,
}

impl Conversation<'_> {
    async fn step(
        &self,
        state: DialogueState,
        input: Input<'_>,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        if self.app.is_admin(self.user) {
            if let Some(replies) = admin::try_handle(self, &input).await? {
                return Ok(replies);
            }
        }
        let cancel = self.text("btn_cancel").await;
        let is_cancel = matches!(input, Input::Command("/cancel"))
            || matches!(input, Input::Text(t) if t.trim() == cancel);
        if is_cancel {
            return self.cancel(&state).await;
        }
        match (state, input) {
            (_, Input::Command("/start")) => self.start().await,
            (DialogueState::AwaitingName, Input::Text(text)) => self.receive_name(text).await,
            (DialogueState::AwaitingName, _) => self.reply_with_cancel("hint_awaiting_name").await,
            (DialogueState::AwaitingPhone { name }, Input::Contact { phone, owner }) => {
                if owner != Some(self.user.telegram_id) {
                    return self.phone_keyboard_reply("contact_not_own", &name).await;
                }
                self.receive_phone(phone, &name).await
            }
            (DialogueState::AwaitingPhone { name }, Input::Text(text)) => {
                self.receive_phone(text, &name).await
            }
            (DialogueState::AwaitingPhone { name }, _) => {
                self.phone_keyboard_reply("phone_invalid", &name).await
            }
            (DialogueState::Idle, _) if self.user.status != UserStatus::Registered => {
                self.reply("hint_start", &[]).await
            }
            (DialogueState::Idle, _) => {
                let text = self.text("hint_menu").await;
                Ok(vec![self.with_main_menu(text).await])
            }
        }
    }

    async fn start(&self) -> anyhow::Result<Vec<OutgoingMessage>> {
        if self.user.status == UserStatus::Registered {
            let tickets = self.app.users.ticket_count(self.user.id).await?;
            let days_left = match days_left(self.app.settings.promo.end_date, today()) {
                Some(days) => {
                    self.app
                        .texts
                        .render("days_left", self.lang, &[("days", &days.to_string())])
                        .await
                }
                None => self.text("promo_open_ended").await,
            };
            self.set_state(&DialogueState::Idle).await?;
            let text = self
                .app
                .texts
                .render(
                    "welcome_back",
                    self.lang,
                    &[
                        ("name", self.user.display_name()),
                        ("tickets", &tickets.to_string()),
                        ("days_left", &days_left),
                    ],
                )
                .await;
            return Ok(vec![self.with_main_menu(text).await]);
        }
        self.app.users.start_registration(self.user.id).await?;
        self.set_state(&DialogueState::AwaitingName).await?;
        let promo = &self.app.settings.promo;
        let text = self
            .app
            .texts
            .render(
                "welcome_new",
                self.lang,
                &[("promo", &promo.name), ("prizes", &promo.prizes)],
            )
            .await;
        Ok(vec![self.with_cancel_keyboard(text).await])
    }

    async fn receive_name(&self, text: &str) -> anyhow::Result<Vec<OutgoingMessage>> {
        let Some(name) = dialogue::validate_name(text) else {
            return self.reply_with_cancel("name_invalid").await;
        };
        self.app.users.set_full_name(self.user.id, &name).await?;
        self.set_state(&DialogueState::AwaitingPhone { name: name.clone() })
            .await?;
        self.phone_keyboard_reply("ask_phone", &name).await
    }

    async fn receive_phone(&self, raw: &str, name: &str) -> anyhow::Result<Vec<OutgoingMessage>> {
        let Ok(phone) = Phone::parse(raw) else {
            return self.phone_keyboard_reply("phone_invalid", name).await;
        };
        let sealed = self.app.settings.phone_key.seal(&phone);
        self.app
            .users
            .complete_registration(self.user.id, &sealed)
            .await?;
        self.set_state(&DialogueState::Idle).await?;
        tracing::info!(user_id = self.user.id, phone = %phone, "shopper registered");
        let text = self.text("registered").await;
        Ok(vec![self.with_main_menu(text).await])
    }

    async fn cancel(&self, state: &DialogueState) -> anyhow::Result<Vec<OutgoingMessage>> {
        self.set_state(&DialogueState::Idle).await?;
        let registering = matches!(
            state,
            DialogueState::AwaitingName | DialogueState::AwaitingPhone { .. }
        );
        if registering && self.user.status != UserStatus::Registered {
            self.app.users.reset_registration(self.user.id).await?;
            let text = self.text("cancelled_registration").await;
            return Ok(vec![OutgoingMessage::Send(
                SendMessage::new(self.chat_id, text)
                    .markup(crate::telegram::ReplyKeyboardRemove::new()),
            )]);
        }
        if self.user.status == UserStatus::Registered {
            let text = self.text("cancelled").await;
            return Ok(vec![self.with_main_menu(text).await]);
        }
        self.reply("hint_start", &[]).await
    }

    pub(crate) async fn set_state(&self, state: &DialogueState) -> anyhow::Result<()> {
        let key = dialogue::key(self.chat_id);
        if *state == DialogueState::Idle {
            self.app.redis.delete(&key).await
        } else {
            self.app
                .redis
                .set_json(&key, state, crate::store::DIALOGUE_TTL_SECS)
                .await
        }
    }

    pub(crate) async fn text(&self, key: &str) -> String {
        self.app.texts.get(key, self.lang).await
    }

    pub(crate) async fn reply(&self, key: &str, args: &[(&str, &str)]) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self.app.texts.render(key, self.lang, args).await;
        Ok(vec![OutgoingMessage::Send(SendMessage::new(
            self.chat_id,
            text,
        ))])
    }

    pub(crate) async fn reply_with_cancel(&self, key: &str) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self.text(key).await;
        Ok(vec![self.with_cancel_keyboard(text).await])
    }

    async fn phone_keyboard_reply(
        &self,
        key: &str,
        name: &str,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self.app.texts.render(key, self.lang, &[("name", name)]).await;
        let mut share = KeyboardButton::new(self.text("btn_share_contact").await);
        share.request_contact();
        let mut keyboard = ReplyKeyboardMarkup::from(vec![
            vec![share],
            vec![KeyboardButton::new(self.text("btn_cancel").await)],
        ]);
        keyboard.resize_keyboard();
        Ok(vec![OutgoingMessage::Send(
            SendMessage::new(self.chat_id, text).markup(keyboard),
        )])
    }

    pub(crate) async fn with_cancel_keyboard(&self, text: String) -> OutgoingMessage {
        let mut keyboard =
            ReplyKeyboardMarkup::from(vec![vec![KeyboardButton::new(self.text("btn_cancel").await)]]);
        keyboard.resize_keyboard();
        OutgoingMessage::Send(SendMessage::new(self.chat_id, text).markup(keyboard))
    }

    pub(crate) async fn with_main_menu(&self, text: String) -> OutgoingMessage {
        let mut rows = vec![
            vec![KeyboardButton::new(self.text("btn_upload").await)],
            vec![
                KeyboardButton::new(self.text("btn_profile").await),
                KeyboardButton::new(self.text("btn_receipts").await),
            ],
            vec![
                KeyboardButton::new(self.text("btn_faq").await),
                KeyboardButton::new(self.text("btn_support").await),
            ],
        ];
        if self.app.is_admin(self.user) {
            rows.push(vec![
                KeyboardButton::new(self.text("btn_stats").await),
                KeyboardButton::new(self.text("btn_broadcast").await),
            ]);
            rows.push(vec![
                KeyboardButton::new(self.text("btn_raffle").await),
                KeyboardButton::new(self.text("btn_winners").await),
            ]);
            rows.push(vec![
                KeyboardButton::new(self.text("btn_export_winners").await),
                KeyboardButton::new(self.text("btn_manual_receipt").await),
            ]);
        }
        let mut keyboard = ReplyKeyboardMarkup::from(rows);
        keyboard.resize_keyboard();
        OutgoingMessage::Send(SendMessage::new(self.chat_id, text).markup(keyboard))
    }
}

/// Moscow date: the promo's dates are Russian calendar days.
fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(3)).date_naive()
}

/// Days left including today; `None` for an open-ended promotion.
pub fn days_left(end: Option<NaiveDate>, today: NaiveDate) -> Option<i64> {
    end.map(|end| ((end - today).num_days() + 1).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_counts_the_last_day_and_never_goes_negative() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let today = d("2026-11-24").unwrap_or_default();
        assert_eq!(days_left(d("2026-11-24"), today), Some(1));
        assert_eq!(days_left(d("2026-11-30"), today), Some(7));
        assert_eq!(days_left(d("2026-11-01"), today), Some(0));
        assert_eq!(days_left(None, today), None);
    }
}
