//! Inline-button taps. Every callback is answered (else the client shows a spinner), and
//! data the bot never sent, or sent long ago, is answered with a notice and changes
//! nothing: callback_data comes from the client and can be forged.

use crate::t;
use serde_json::json;
use telegram_bot_raw::MessageOrChannelPost;

use crate::bot::Bot;
use crate::telegram::{
    CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, ReplyMarkup,
    SendMessage,
};
use crate::texts::Lang;
use crate::users::{User, UserStatus};

use super::{callback_query_id, claim, faq, manual, profile, subscription, Conversation};

/// Highest page number worth a database query; anything above is forged.
const MAX_PAGE: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callback<'a> {
    FaqTopics,
    FaqTopic(&'a str),
    ReceiptsPage(i64),
    Language(Lang),
    CheckSubscription,
    ManualEntry,
    Claim(claim::Action, i64),
}

impl<'a> Callback<'a> {
    fn parse(data: &'a str) -> Option<Self> {
        let mut parts = data.split(':');
        let parsed = match (parts.next(), parts.next(), parts.next()) {
            (Some("faq"), Some("m"), None) => Callback::FaqTopics,
            (Some("faq"), Some(code), None) => Callback::FaqTopic(code),
            (Some("rc"), Some("p"), Some(page)) => Callback::ReceiptsPage(
                page.parse::<i64>()
                    .ok()
                    .filter(|page| (1..=MAX_PAGE).contains(page))?,
            ),
            (Some("lang"), Some(code), None) => Callback::Language(Lang::from_code(code)?),
            (Some("claim"), Some(action), Some(id)) => Callback::Claim(
                claim::Action::parse(action)?,
                id.parse::<i64>().ok().filter(|id| *id > 0)?,
            ),
            _ if data == subscription::CHECK => Callback::CheckSubscription,
            _ if data == manual::START => Callback::ManualEntry,
            _ => return None,
        };
        parts.next().is_none().then_some(parsed)
    }
}

/// `editMessageText` of one of the bot's messages; `None` removes the inline keyboard.
pub(crate) fn edit(
    chat_id: i64,
    message_id: i64,
    text: String,
    keyboard: Option<InlineKeyboardMarkup>,
) -> OutgoingMessage {
    let mut params = json!({"chat_id": chat_id, "message_id": message_id, "text": text});
    if let Some(keyboard) = keyboard {
        params["reply_markup"] =
            serde_json::to_value(ReplyMarkup::from(keyboard)).unwrap_or_default();
    }
    OutgoingMessage::Call {
        method: "editMessageText",
        params,
    }
}

/// `editMessageReplyMarkup` with an empty inline keyboard: the message keeps its text and
/// loses its buttons. The Bot API documents an empty `inline_keyboard` as "no keyboard".
pub(crate) fn remove_inline_keyboard(chat_id: i64, message_id: i64) -> OutgoingMessage {
    OutgoingMessage::Call {
        method: "editMessageReplyMarkup",
        params: json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "reply_markup": {"inline_keyboard": []},
        }),
    }
}

pub(crate) async fn handle(
    app: &Bot,
    query: &CallbackQuery,
    user: &User,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let id = callback_query_id(query);
    let answer = |text: Option<String>| OutgoingMessage::AnswerCallback {
        callback_query_id: id.clone(),
        text,
    };
    let stale = app.texts.get(t!("callback_stale"), user.lang).await;
    let admin_data = query
        .data
        .as_deref()
        .is_some_and(|data| data.starts_with(super::admin::CALLBACK_PREFIX));
    if admin_data {
        // The admin module checks the sender itself and answers the tap first; anyone
        // else's tap gets the ordinary notice.
        return Ok(super::admin::handle_callback(app, query)
            .await?
            .unwrap_or_else(|| vec![answer(Some(stale))]));
    }
    // Only buttons under the bot's messages in the shopper's own chat: a tap in another
    // chat must never show this shopper's data there.
    let message = match &query.message {
        Some(MessageOrChannelPost::Message(message))
            if i64::from(message.chat.id()) == user.telegram_id =>
        {
            message
        }
        _ => return Ok(vec![answer(Some(stale))]),
    };
    let message_id: i64 = message.id.into();
    let conversation = Conversation {
        app,
        chat_id: user.telegram_id,
        user,
        lang: user.lang,
    };
    let callback = query.data.as_deref().and_then(Callback::parse);
    let registered = user.status == UserStatus::Registered;
    let calls = match callback {
        _ if user.status == UserStatus::Banned => vec![answer(Some(stale))],
        Some(Callback::FaqTopics) => {
            let (text, keyboard) = faq::topics_view(&conversation).await;
            vec![
                answer(None),
                edit(conversation.chat_id, message_id, text, Some(keyboard)),
            ]
        }
        Some(Callback::FaqTopic(code)) => match faq::topic_view(&conversation, code).await {
            Some((text, keyboard)) => vec![
                answer(None),
                edit(conversation.chat_id, message_id, text, Some(keyboard)),
            ],
            None => vec![answer(Some(stale))],
        },
        Some(Callback::ReceiptsPage(page)) if registered => {
            match profile::receipts_page(&conversation, page).await? {
                Some((text, keyboard)) => vec![
                    answer(None),
                    edit(conversation.chat_id, message_id, text, keyboard),
                ],
                None => vec![answer(Some(
                    conversation.text(t!("callback_page_missing")).await,
                ))],
            }
        }
        Some(Callback::Language(lang)) => {
            choose_language(&conversation, lang, message_id, answer).await?
        }
        Some(Callback::CheckSubscription) => {
            subscription::check(&conversation, message_id, answer).await?
        }
        Some(Callback::Claim(action, winner_id)) => {
            claim::tap(&conversation, action, winner_id, message_id, answer).await?
        }
        Some(Callback::ManualEntry) if registered => {
            let mut calls = vec![answer(None)];
            calls.extend(manual::start(&conversation).await?);
            calls
        }
        _ => vec![answer(Some(stale))],
    };
    Ok(calls)
}

/// `/language`: two inline buttons, each name in its own language.
pub(crate) async fn language_menu(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let keyboard = InlineKeyboardMarkup::from(vec![vec![
        InlineKeyboardButton::callback(conversation.text(t!("btn_lang_ru")).await, "lang:ru"),
        InlineKeyboardButton::callback(conversation.text(t!("btn_lang_en")).await, "lang:en"),
    ]]);
    let text = conversation.text(t!("language_choose")).await;
    Ok(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(keyboard),
    )])
}

async fn choose_language(
    conversation: &Conversation<'_>,
    lang: Lang,
    message_id: i64,
    answer: impl Fn(Option<String>) -> OutgoingMessage,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    conversation
        .app
        .users
        .set_language(conversation.user.id, lang)
        .await?;
    let chosen = Conversation {
        app: conversation.app,
        chat_id: conversation.chat_id,
        user: conversation.user,
        lang,
    };
    let mut calls = vec![
        answer(None),
        edit(
            chosen.chat_id,
            message_id,
            chosen.text(t!("language_set")).await,
            None,
        ),
    ];
    // The reply keyboard can only be replaced by a new message.
    if conversation.user.status == UserStatus::Registered {
        let text = chosen.text(t!("menu_updated")).await;
        calls.push(chosen.with_main_menu(text).await);
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_the_bot_sends_parses_and_anything_else_does_not() {
        assert_eq!(Callback::parse("faq:m"), Some(Callback::FaqTopics));
        assert_eq!(Callback::parse("faq:lim"), Some(Callback::FaqTopic("lim")));
        assert_eq!(Callback::parse("rc:p:2"), Some(Callback::ReceiptsPage(2)));
        assert_eq!(
            Callback::parse("lang:en"),
            Some(Callback::Language(Lang::En))
        );
        assert_eq!(
            Callback::parse("sub:check"),
            Some(Callback::CheckSubscription)
        );
        assert_eq!(
            Callback::parse("claim:consent:42"),
            Some(Callback::Claim(claim::Action::Consent, 42))
        );
        for forged in [
            "",
            "rc:p:0",
            "rc:p:-1",
            "rc:p:x",
            "rc:p:100001",
            "rc:p:2:3",
            "lang:de",
            "faq",
            "faq:m:1",
            "sub:check:1",
            "raffle:confirm:12",
            "claim:ok:0",
            "claim:ok:-3",
            "claim:ok:x",
            "claim:ok:99999999999999999999",
            "claim:maybe:1",
            "claim:ok:1:2",
        ] {
            assert_eq!(Callback::parse(forged), None, "{forged}");
        }
    }

    #[test]
    fn every_callback_data_fits_telegrams_64_byte_limit() {
        let longest = format!("rc:p:{MAX_PAGE}");
        assert!(longest.len() <= 64);
        for (code, _, _) in faq::TOPICS {
            assert!(format!("faq:{code}").len() <= 64);
        }
    }
}
