//! The shopper's main menu: which button a text is, and what each button opens.

use crate::t;
use crate::telegram::OutgoingMessage;
use crate::texts::Lang;
use crate::texts::TextKey;

use super::{faq, profile, upload, Conversation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MenuButton {
    Upload,
    Profile,
    Receipts,
    Faq,
    Support,
}

const BUTTONS: &[(TextKey, MenuButton)] = &[
    (t!("btn_upload"), MenuButton::Upload),
    (t!("btn_profile"), MenuButton::Profile),
    (t!("btn_receipts"), MenuButton::Receipts),
    (t!("btn_faq"), MenuButton::Faq),
    (t!("btn_support"), MenuButton::Support),
];

/// The menu button `text` is, in the shopper's language or the other one: right after
/// `/language` the old keyboard is still on screen until the next menu message.
pub(crate) async fn button(conversation: &Conversation<'_>, text: &str) -> Option<MenuButton> {
    let text = text.trim();
    let other = match conversation.lang {
        Lang::Ru => Lang::En,
        Lang::En => Lang::Ru,
    };
    for lang in [conversation.lang, other] {
        for (key, button) in BUTTONS {
            if conversation.app.texts.get(*key, lang).await == text {
                return Some(*button);
            }
        }
    }
    None
}

pub(crate) async fn open(
    conversation: &Conversation<'_>,
    button: MenuButton,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    match button {
        MenuButton::Upload => upload::start(conversation).await,
        MenuButton::Profile => profile::show(conversation).await,
        MenuButton::Receipts => profile::receipts(conversation).await,
        MenuButton::Faq => faq::menu(conversation).await,
        MenuButton::Support => faq::support(conversation).await,
    }
}
