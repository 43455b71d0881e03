//! The shopper dialogue: turns one Telegram update into the bot's replies.
//!
//! Handlers return their replies instead of sending them, so the webhook can put a reply
//! into its HTTP response and tests can assert replies without a server.

pub mod admin;
mod callbacks;
pub mod claim;
mod context;
pub mod dialogue;
mod faq;
pub mod manual;
mod menu;
mod profile;
pub mod states;
mod subscription;
pub mod test_chat;
mod upload;
#[cfg(feature = "http")]
pub mod webhook;

pub use context::{Bot, BotSettings, StuckClaims};

use chrono::NaiveDate;
use telegram_bot_raw::{MessageChat, MessageKind};

use crate::pii::Phone;
use crate::t;
use crate::telegram::{
    ChatMemberUpdated, IncomingUpdate, KeyboardButton, Message, OutgoingMessage,
    ReplyKeyboardMarkup, SendMessage, UpdateKind,
};
use crate::texts::{Lang, TextKey};
use crate::users::{SavedStates, TelegramProfile, User, UserStatus};
use dialogue::DialogueState;
use menu::MenuButton;
use states::Flow;

/// What the shopper sent, reduced to what the dialogue cares about.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    Command(&'a str),
    Text(&'a str),
    Contact {
        phone: &'a str,
        owner: Option<i64>,
    },
    /// The largest size of a photo (by width × height).
    Photo {
        file_id: &'a str,
        file_size: Option<i64>,
    },
    /// A file sent "as document" (uncompressed; better for reading a QR code).
    Document {
        file_id: &'a str,
        mime_type: Option<&'a str>,
        file_size: Option<i64>,
    },
    Other,
}

/// Claims the update (dedup) and handles it. `None`: the update was processed before.
pub async fn process_update(
    app: &Bot,
    update: &IncomingUpdate,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    match &update.kind {
        UpdateKind::Message(message) => {
            // Groups and channels are not part of the promo: claimed, then ignored.
            let MessageChat::Private(_) = &message.chat else {
                return claim_only(app, update.update_id).await;
            };
            let from = &message.from;
            let Some((user, saved)) = app
                .users
                .claim_touch_and_read_states(update.update_id, &profile_of(from))
                .await?
            else {
                return Ok(None);
            };
            let replies = handle_message(app, message, &user, saved).await?;
            Ok(Some(replies))
        }
        UpdateKind::CallbackQuery(query) => {
            let Some(user) = app
                .users
                .claim_and_touch(update.update_id, &profile_of(&query.from))
                .await?
            else {
                return Ok(None);
            };
            callbacks::handle(app, query, &user).await.map(Some)
        }
        UpdateKind::MyChatMember(change) => {
            if !app.claim_update(update.update_id).await? {
                return Ok(None);
            }
            handle_membership(app, change).await?;
            Ok(Some(Vec::new()))
        }
        UpdateKind::Unknown { .. } => Ok(Some(Vec::new())),
    }
}

async fn claim_only(app: &Bot, update_id: i64) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    Ok(app.claim_update(update_id).await?.then(Vec::new))
}

fn profile_of(from: &crate::telegram::User) -> TelegramProfile<'_> {
    TelegramProfile {
        telegram_id: from.id.into(),
        username: from.username.as_deref(),
        first_name: &from.first_name,
        last_name: from.last_name.as_deref(),
        language_code: from.language_code.as_deref(),
    }
}

/// telegram-bot-raw keeps the id's string private; its serde form is the string itself.
pub fn callback_query_id(query: &crate::telegram::CallbackQuery) -> String {
    serde_json::to_value(&query.id)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn handle_membership(app: &Bot, change: &ChatMemberUpdated) -> anyhow::Result<()> {
    if change.chat.kind != "private" {
        return Ok(());
    }
    match change.new_chat_member.status.as_str() {
        "kicked" => app.users.set_reachable(change.from.id, false).await,
        "member" => app.users.set_reachable(change.from.id, true).await,
        _ => Ok(()),
    }
}

/// Reduces a message to an [`Input`].
fn input_of(message: &Message) -> Input<'_> {
    match &message.kind {
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
        // Telegram lists sizes small to large today, but that order is not documented.
        MessageKind::Photo { data, .. } => data
            .iter()
            .max_by_key(|size| size.width.saturating_mul(size.height))
            .map_or(Input::Other, |size| Input::Photo {
                file_id: &size.file_id,
                file_size: size.file_size,
            }),
        MessageKind::Document { data, .. } => Input::Document {
            file_id: &data.file_id,
            mime_type: data.mime_type.as_deref(),
            file_size: data.file_size,
        },
        _ => Input::Other,
    }
}

/// `saved` is what the claim read for this private chat (its id is the sender's).
async fn handle_message(
    app: &Bot,
    message: &Message,
    user: &User,
    saved: SavedStates,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let chat_id: i64 = message.chat.id().into();
    let input = input_of(message);
    let state: DialogueState = states::parse(saved.shopper).unwrap_or_default();
    let admin_state: Option<admin::AdminState> = states::parse(saved.admin);
    let conversation = Conversation {
        app,
        chat_id,
        user,
        lang: user.lang,
    };
    conversation.step(state, admin_state, input).await
}

pub(crate) struct Conversation<'a> {
    pub(crate) app: &'a Bot,
    pub(crate) chat_id: i64,
    pub(crate) user: &'a User,
    pub(crate) lang: Lang,
}

impl Conversation<'_> {
    async fn step(
        &self,
        state: DialogueState,
        admin_state: Option<admin::AdminState>,
        input: Input<'_>,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        if self.app.is_admin(self.user) {
            if let Some(replies) = admin::try_handle(self, admin_state, &input).await? {
                return Ok(replies);
            }
        }
        if self.user.status == UserStatus::Banned {
            return self.reply(t!("banned"), &[]).await;
        }
        let cancel = self.text(t!("btn_cancel")).await;
        let is_cancel = matches!(input, Input::Command("/cancel"))
            || matches!(input, Input::Text(t) if t.trim() == cancel);
        if is_cancel {
            return self.cancel(&state).await;
        }
        let registered = self.user.status == UserStatus::Registered;
        let button = match input {
            Input::Text(text) if registered => menu::button(self, text).await,
            _ => None,
        };
        match (state, input, button) {
            (state, Input::Command("/start"), _) => self.start(&state).await,
            (_, Input::Command("/help"), _) => faq::help(self).await,
            (_, Input::Command("/language"), _) => callbacks::language_menu(self).await,
            (DialogueState::AwaitingName, Input::Text(text), _) => self.receive_name(text).await,
            (DialogueState::AwaitingName, _, _) => {
                self.reply_with_cancel(t!("hint_awaiting_name")).await
            }
            (DialogueState::AwaitingPhone { name }, Input::Contact { phone, owner }, _) => {
                if owner != Some(self.user.telegram_id) {
                    return self
                        .phone_keyboard_reply(t!("contact_not_own"), &name)
                        .await;
                }
                self.receive_phone(phone, &name).await
            }
            (DialogueState::AwaitingPhone { name }, Input::Text(text), _) => {
                self.receive_phone(text, &name).await
            }
            (DialogueState::AwaitingPhone { name }, _, _) => {
                self.phone_keyboard_reply(t!("phone_invalid"), &name).await
            }
            (DialogueState::AwaitingSubscription, _, _) if !registered => {
                subscription::prompt(self, t!("hint_awaiting_subscription")).await
            }
            _ if !registered => match self.phase().await {
                // "Send /start" would only lead to the same closing words.
                PromoPhase::Ended(end) => self.ended_for_newcomer(end).await,
                _ => self.reply(t!("hint_start"), &[]).await,
            },
            (state, Input::Command("/status"), _) => {
                self.leave(&state).await?;
                profile::status(self).await
            }
            (state, _, Some(button)) => {
                // Any menu button ends a half-done upload, except pressing upload again.
                if button != MenuButton::Upload {
                    self.leave(&state).await?;
                }
                menu::open(self, button).await
            }
            (
                DialogueState::ClaimDocuments {
                    winner_id,
                    step,
                    sealed,
                },
                Input::Text(text),
                _,
            ) => claim::receive(self, winner_id, step, sealed, text).await,
            (
                DialogueState::ClaimDocuments {
                    winner_id,
                    step,
                    sealed,
                },
                _,
                _,
            ) => claim::repeat(self, winner_id, step, sealed).await,
            (state, Input::Photo { file_id, file_size }, _) => {
                upload::receive_file(self, &state, upload::Upload::photo(file_id, file_size)).await
            }
            (
                state,
                Input::Document {
                    file_id,
                    mime_type,
                    file_size,
                },
                _,
            ) => {
                let upload = upload::Upload::document(file_id, mime_type, file_size);
                upload::receive_file(self, &state, upload).await
            }
            (DialogueState::ManualReceipt { step, fields }, Input::Text(text), _) => {
                manual::receive(self, step, fields, text).await
            }
            // A photo or file while typing fields is taken as the receipt (above); any
            // other input gets the question again.
            (DialogueState::ManualReceipt { step, fields }, _, _) => {
                manual::repeat(self, step, fields).await
            }
            // A QR string is a receipt wherever the shopper pastes it, as a photo is.
            (state, Input::Text(text), _) => upload::receive_text(self, &state, text).await,
            (DialogueState::AwaitingReceipt, _, _) => {
                let text = self.text(t!("upload_hint")).await;
                Ok(vec![manual::upload_keyboard(self, text).await])
            }
            _ => {
                let text = self.text(t!("hint_menu")).await;
                Ok(vec![self.with_main_menu(text).await])
            }
        }
    }

    async fn start(&self, state: &DialogueState) -> anyhow::Result<Vec<OutgoingMessage>> {
        if self.user.status == UserStatus::Registered {
            let tickets = self.user.tickets;
            let days_left = self.promo_period_text().await;
            self.leave(state).await?;
            let text = self
                .app
                .texts
                .render(
                    t!("welcome_back"),
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
        let starts = match self.phase().await {
            PromoPhase::Ended(end) => {
                // Registering now would only lead to a menu whose every upload is refused.
                self.leave(state).await?;
                self.app.users.reset_registration(self.user.id).await?;
                return self.ended_for_newcomer(end).await;
            }
            PromoPhase::NotStarted(start) => {
                let line = self
                    .render(
                        t!("welcome_starts"),
                        &[("start", &upload::format_date(start))],
                    )
                    .await;
                format!("\n\n{line}")
            }
            PromoPhase::Running { .. } => String::new(),
        };
        self.app.users.start_registration(self.user.id).await?;
        self.set_state(&DialogueState::AwaitingName).await?;
        let promo = self.app.promo.current().await;
        let text = self
            .app
            .texts
            .render(
                t!("welcome_new"),
                self.lang,
                &[
                    ("promo", &promo.name),
                    ("prizes", &promo.prizes),
                    ("starts", &starts),
                ],
            )
            .await;
        Ok(vec![self.with_cancel_keyboard(text).await])
    }

    /// `/start` from someone not registered once the promotion is over: what happened
    /// and what comes next, without a registration that would lead nowhere.
    async fn ended_for_newcomer(&self, end: NaiveDate) -> anyhow::Result<Vec<OutgoingMessage>> {
        let promo = self.app.promo.current().await;
        let text = self
            .render(
                t!("welcome_ended"),
                &[
                    ("promo", &promo.name),
                    ("prizes", &promo.prizes),
                    ("end", &upload::format_date(end)),
                ],
            )
            .await;
        Ok(vec![OutgoingMessage::Send(
            SendMessage::new(self.chat_id, text)
                .markup(crate::telegram::ReplyKeyboardRemove::new()),
        )])
    }

    async fn receive_name(&self, text: &str) -> anyhow::Result<Vec<OutgoingMessage>> {
        let name = match dialogue::validate_name(text) {
            Ok(name) => name,
            Err(error) => return self.explain_name(&error).await,
        };
        self.app.users.set_full_name(self.user.id, &name).await?;
        self.set_state(&DialogueState::AwaitingPhone { name: name.clone() })
            .await?;
        self.phone_keyboard_reply(t!("ask_phone"), &name).await
    }

    async fn explain_name(
        &self,
        error: &dialogue::NameError,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        let suggestion = match error {
            dialogue::NameError::Markup {
                suggestion: Some(name),
            } => {
                self.render(t!("name_markup_suggestion"), &[("name", name)])
                    .await
            }
            _ => String::new(),
        };
        let symbols = match error {
            dialogue::NameError::Symbols(symbols) => symbols.as_str(),
            _ => "",
        };
        let text = self
            .render(
                error.text_key(),
                &[("suggestion", &suggestion), ("symbols", symbols)],
            )
            .await;
        Ok(vec![self.with_cancel_keyboard(text).await])
    }

    async fn receive_phone(&self, raw: &str, name: &str) -> anyhow::Result<Vec<OutgoingMessage>> {
        let Ok(phone) = Phone::parse(raw) else {
            return self.phone_keyboard_reply(t!("phone_invalid"), name).await;
        };
        let sealed = self.app.settings.phone_key.seal(&phone);
        let needs_subscription = self.app.promo.current().await.required_channel.is_some();
        self.app
            .users
            .save_phone(self.user.id, &sealed, !needs_subscription)
            .await?;
        if needs_subscription {
            tracing::info!(user_id = self.user.id, phone = %phone, "phone stored, subscription pending");
            return subscription::after_phone(self).await;
        }
        self.set_state(&DialogueState::Idle).await?;
        tracing::info!(user_id = self.user.id, phone = %phone, "shopper registered");
        let text = self.text(t!("registered")).await;
        Ok(vec![self.with_main_menu(text).await])
    }

    async fn cancel(&self, state: &DialogueState) -> anyhow::Result<Vec<OutgoingMessage>> {
        self.leave(state).await?;
        let registering = matches!(
            state,
            DialogueState::AwaitingName
                | DialogueState::AwaitingPhone { .. }
                | DialogueState::AwaitingSubscription
        );
        if registering && self.user.status != UserStatus::Registered {
            self.app.users.reset_registration(self.user.id).await?;
            let text = self.text(t!("cancelled_registration")).await;
            return Ok(vec![OutgoingMessage::Send(
                SendMessage::new(self.chat_id, text)
                    .markup(crate::telegram::ReplyKeyboardRemove::new()),
            )]);
        }
        if self.user.status == UserStatus::Registered {
            let text = self.text(t!("cancelled")).await;
            return Ok(vec![self.with_main_menu(text).await]);
        }
        self.reply(t!("hint_start"), &[]).await
    }

    /// Back to the menu; skips the write when there is no state to forget.
    pub(crate) async fn leave(&self, state: &DialogueState) -> anyhow::Result<()> {
        if *state == DialogueState::Idle {
            return Ok(());
        }
        self.set_state(&DialogueState::Idle).await
    }

    pub(crate) async fn set_state(&self, state: &DialogueState) -> anyhow::Result<()> {
        let states = self.app.states();
        if *state == DialogueState::Idle {
            states.clear(Flow::Shopper, self.chat_id).await
        } else {
            states.save(Flow::Shopper, self.chat_id, state).await
        }
    }

    pub(crate) async fn text(&self, key: TextKey) -> String {
        self.app.texts.get(key, self.lang).await
    }

    pub(crate) async fn render(&self, key: TextKey, args: &[(&str, &str)]) -> String {
        self.app.texts.render(key, self.lang, args).await
    }

    pub(crate) async fn phase(&self) -> PromoPhase {
        let promo = self.app.promo.current().await;
        promo_phase(promo.start_date, promo.end_date, today())
    }

    /// One line on where the promotion stands: when it starts, the days left (or "the
    /// last day"), "running" for an open-ended one, or that it is over and what follows.
    pub(crate) async fn promo_period_text(&self) -> String {
        match self.phase().await {
            PromoPhase::NotStarted(start) => {
                self.render(
                    t!("promo_not_started"),
                    &[("start", &upload::format_date(start))],
                )
                .await
            }
            PromoPhase::Running { end: Some(end) } => match days_left(Some(end), today()) {
                Some(1) => self.text(t!("promo_last_day")).await,
                days => {
                    let days = days.unwrap_or_default().to_string();
                    self.render(t!("days_left"), &[("days", &days)]).await
                }
            },
            PromoPhase::Running { end: None } => self.text(t!("promo_open_ended")).await,
            PromoPhase::Ended(end) => {
                self.render(t!("promo_over"), &[("end", &upload::format_date(end))])
                    .await
            }
        }
    }

    pub(crate) async fn reply(
        &self,
        key: TextKey,
        args: &[(&str, &str)],
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self.app.texts.render(key, self.lang, args).await;
        Ok(vec![OutgoingMessage::Send(SendMessage::new(
            self.chat_id,
            text,
        ))])
    }

    pub(crate) async fn reply_with_cancel(
        &self,
        key: TextKey,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self.text(key).await;
        Ok(vec![self.with_cancel_keyboard(text).await])
    }

    async fn phone_keyboard_reply(
        &self,
        key: TextKey,
        name: &str,
    ) -> anyhow::Result<Vec<OutgoingMessage>> {
        let text = self
            .app
            .texts
            .render(key, self.lang, &[("name", name)])
            .await;
        let mut share = KeyboardButton::new(self.text(t!("btn_share_contact")).await);
        share.request_contact();
        let mut keyboard = ReplyKeyboardMarkup::from(vec![
            vec![share],
            vec![KeyboardButton::new(self.text(t!("btn_cancel")).await)],
        ]);
        keyboard.resize_keyboard();
        Ok(vec![OutgoingMessage::Send(
            SendMessage::new(self.chat_id, text).markup(keyboard),
        )])
    }

    pub(crate) async fn with_cancel_keyboard(&self, text: String) -> OutgoingMessage {
        self.with_buttons(text, &[t!("btn_cancel")]).await
    }

    /// `text` with a reply keyboard of these buttons, one per row.
    pub(crate) async fn with_buttons(&self, text: String, buttons: &[TextKey]) -> OutgoingMessage {
        let mut rows = Vec::with_capacity(buttons.len());
        for button in buttons {
            rows.push(vec![KeyboardButton::new(self.text(*button).await)]);
        }
        let mut keyboard = ReplyKeyboardMarkup::from(rows);
        keyboard.resize_keyboard();
        OutgoingMessage::Send(SendMessage::new(self.chat_id, text).markup(keyboard))
    }

    pub(crate) async fn with_main_menu(&self, text: String) -> OutgoingMessage {
        let mut rows = vec![
            vec![KeyboardButton::new(self.text(t!("btn_upload")).await)],
            vec![
                KeyboardButton::new(self.text(t!("btn_profile")).await),
                KeyboardButton::new(self.text(t!("btn_receipts")).await),
            ],
            vec![
                KeyboardButton::new(self.text(t!("btn_faq")).await),
                KeyboardButton::new(self.text(t!("btn_support")).await),
            ],
        ];
        if self.app.is_admin(self.user) {
            rows.push(vec![
                KeyboardButton::new(self.text(t!("btn_stats")).await),
                KeyboardButton::new(self.text(t!("btn_broadcast")).await),
            ]);
            rows.push(vec![
                KeyboardButton::new(self.text(t!("btn_raffle")).await),
                KeyboardButton::new(self.text(t!("btn_winners")).await),
            ]);
            rows.push(vec![
                KeyboardButton::new(self.text(t!("btn_export_winners")).await),
                KeyboardButton::new(self.text(t!("btn_manual_receipt")).await),
            ]);
        }
        let mut keyboard = ReplyKeyboardMarkup::from(rows);
        keyboard.resize_keyboard();
        OutgoingMessage::Send(SendMessage::new(self.chat_id, text).markup(keyboard))
    }
}

/// Moscow date: the promo's dates are Russian calendar days.
pub(crate) fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(3)).date_naive()
}

/// Where the promotion stands on a (Moscow) calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoPhase {
    /// Before the first day.
    NotStarted(NaiveDate),
    /// Between the first and the last day, both included; `end` is `None` when open-ended.
    Running { end: Option<NaiveDate> },
    /// After the last day.
    Ended(NaiveDate),
}

pub fn promo_phase(
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    today: NaiveDate,
) -> PromoPhase {
    if let Some(start) = start.filter(|start| today < *start) {
        return PromoPhase::NotStarted(start);
    }
    match end {
        Some(end) if today > end => PromoPhase::Ended(end),
        end => PromoPhase::Running { end },
    }
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

    #[test]
    fn the_phase_counts_the_first_and_the_last_day_as_running() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let (start, end) = (d("2026-11-01"), d("2026-11-30"));
        let at = |s: &str| promo_phase(start, end, d(s).unwrap_or_default());
        assert_eq!(
            at("2026-10-31"),
            PromoPhase::NotStarted(start.unwrap_or_default())
        );
        assert_eq!(at("2026-11-01"), PromoPhase::Running { end });
        assert_eq!(at("2026-11-30"), PromoPhase::Running { end });
        assert_eq!(at("2026-12-01"), PromoPhase::Ended(end.unwrap_or_default()));
        assert_eq!(
            promo_phase(None, None, d("2026-12-01").unwrap_or_default()),
            PromoPhase::Running { end: None }
        );
    }
}
