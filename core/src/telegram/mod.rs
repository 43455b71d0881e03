//! Telegram Bot API: the one HTTP client every component uses, and the update/method
//! types (telegram-bot-raw where it is complete, our own small types where it is not),
//! and the panel's test chat, a transport that writes calls down instead of sending them.

mod client;
pub mod transcript;
pub mod types;

pub use client::{FileInfo, FilePart, GatedCallError, SentMessage, TelegramClient, TelegramError};
pub use types::{
    CallbackQuery, ChatMemberUpdated, IncomingUpdate, InlineKeyboardButton, InlineKeyboardMarkup,
    KeyboardButton, Message, MessageKind, OutgoingMessage, ReplyKeyboardMarkup,
    ReplyKeyboardRemove, ReplyMarkup, SendMessage, SetWebhook, UpdateKind, User,
};
