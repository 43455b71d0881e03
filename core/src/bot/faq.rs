//! FAQ topics (inline buttons, edited in place), support contacts and `/help`.

use crate::t;
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, SendMessage};
use crate::texts::TextKey;

use super::upload::format_date;
use super::Conversation;

/// (callback code, button text key, answer text key). Codes stay short: callback_data is
/// limited to 64 bytes.
pub(crate) const TOPICS: &[(&str, TextKey, TextKey)] = &[
    ("how", t!("faq_btn_how"), t!("faq_how")),
    ("lim", t!("faq_btn_limits"), t!("faq_limits")),
    ("win", t!("faq_btn_winners"), t!("faq_winners")),
    ("rej", t!("faq_btn_rejected"), t!("faq_rejected")),
    ("dat", t!("faq_btn_dates"), t!("faq_dates")),
    ("prz", t!("faq_btn_prizes"), t!("faq_prizes")),
];

/// callback_data of the "back to topics" button.
pub(crate) const BACK: &str = "faq:m";

pub(crate) async fn help(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    conversation.reply(t!("help"), &[]).await
}

/// "ℹ️ FAQ" from the menu: the topic list as a new message.
pub(crate) async fn menu(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    let (text, keyboard) = topics_view(conversation).await;
    Ok(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(keyboard),
    )])
}

pub(crate) async fn topics_view(conversation: &Conversation<'_>) -> (String, InlineKeyboardMarkup) {
    let mut rows = Vec::new();
    for pair in TOPICS.chunks(2) {
        let mut row = Vec::new();
        for (code, button, _) in pair {
            row.push(InlineKeyboardButton::callback(
                conversation.text(*button).await,
                format!("faq:{code}"),
            ));
        }
        rows.push(row);
    }
    (
        conversation.text(t!("faq_menu")).await,
        InlineKeyboardMarkup::from(rows),
    )
}

/// One topic's answer with a back button; `None` for an unknown code.
pub(crate) async fn topic_view(
    conversation: &Conversation<'_>,
    code: &str,
) -> Option<(String, InlineKeyboardMarkup)> {
    let (_, _, key) = TOPICS.iter().find(|(c, _, _)| *c == code)?;
    let promo = conversation.app.promo.current().await;
    let start = match promo.start_date {
        Some(date) => format_date(date),
        None => conversation.text(t!("date_running")).await,
    };
    let end = match promo.end_date {
        Some(date) => format_date(date),
        None => conversation.text(t!("date_open")).await,
    };
    let text = conversation
        .render(
            *key,
            &[
                ("per_hour", &promo.receipt_limit_per_hour.to_string()),
                ("per_day", &promo.receipt_limit_per_day.to_string()),
                ("start", &start),
                ("end", &end),
                ("prizes", &promo.prizes),
                ("promo", &promo.name),
            ],
        )
        .await;
    let back = InlineKeyboardButton::callback(conversation.text(t!("btn_back")).await, BACK);
    Some((text, InlineKeyboardMarkup::from(vec![vec![back]])))
}

/// "🆘 Support": the e-mail in the text (Telegram refuses `mailto:` button URLs with
/// BUTTON_URL_INVALID, so an e-mail cannot be a button) and a button opening the support
/// account's chat.
pub(crate) async fn support(
    conversation: &Conversation<'_>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let promo = conversation.app.promo.current().await;
    let mut contacts = Vec::new();
    if let Some(email) = &promo.support_email {
        contacts.push(
            conversation
                .render(t!("support_email"), &[("email", email)])
                .await,
        );
    }
    let telegram = promo
        .support_telegram
        .as_deref()
        .map(|username| username.trim().trim_start_matches('@'))
        .filter(|username| !username.is_empty());
    if let Some(username) = telegram {
        contacts.push(
            conversation
                .render(t!("support_telegram"), &[("username", username)])
                .await,
        );
    }
    if contacts.is_empty() {
        contacts.push(conversation.text(t!("support_none")).await);
    }
    let text = conversation
        .render(t!("support"), &[("contacts", &contacts.join("\n"))])
        .await;
    let mut message = SendMessage::new(conversation.chat_id, text);
    if let Some(username) = telegram {
        let button = InlineKeyboardButton::url(
            conversation.text(t!("btn_support_telegram")).await,
            format!("https://t.me/{username}"),
        );
        message = message.markup(InlineKeyboardMarkup::from(vec![vec![button]]));
    }
    Ok(vec![OutgoingMessage::Send(message)])
}
