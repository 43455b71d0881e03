//! A Telegram chat as the panel draws it: message bubbles (the text through the one
//! formatter of [`crate::telegram_preview`], photos, documents, contacts), inline
//! keyboards that can be tapped, and the reply keyboard under the input. The test chat
//! draws its transcript with it and the Texts page its preview bubble.

use leptos::prelude::*;
use promo_api_types::panel::{
    TestChatInlineButton, TestChatKeyboardButton, TestChatMessage, TestChatReplyKeyboard,
};

use crate::state::{t, when};
use crate::telegram_preview::MessageText;

/// A message's text as Telegram draws it: in its `parse_mode` (`HTML`, `MarkdownV2`)
/// through the panel's one formatter ([`crate::telegram_preview`]), else as typed.
#[component]
pub fn TgText(
    #[prop(into)] text: String,
    #[prop(optional_no_strip, into)] parse_mode: Option<String>,
) -> impl IntoView {
    view! {
        <span class="tg-text">
            <MessageText text=Signal::stored(text) parse_mode=Signal::stored(parse_mode)/>
        </span>
    }
}

/// Where the browser can load a photo the bot sent: one of the panel's uploads or a
/// web address. A Telegram `file_id` cannot be shown outside Telegram.
pub fn photo_src(photo: &str) -> Option<String> {
    if let Some(id) = photo.strip_prefix("upload:") {
        return id
            .parse::<i64>()
            .ok()
            .map(|id| format!("/api/uploads/{id}"));
    }
    let lower = photo.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| photo.to_owned())
}

/// The inline keyboard under a message. A `callback_data` button calls `on_tap`
/// (without one, or while `busy`, it is drawn but does nothing); a `url` button opens
/// its link.
#[component]
pub fn TgInlineKeyboard(
    rows: Vec<Vec<TestChatInlineButton>>,
    #[prop(optional_no_strip)] on_tap: Option<Callback<String>>,
    #[prop(optional, into)] busy: Signal<bool>,
) -> impl IntoView {
    if rows.is_empty() {
        return ().into_any();
    }
    view! {
        <div class="tg-buttons">
            {rows.into_iter().map(|row| view! {
                <div class="tg-row">
                    {row.into_iter().map(|button| {
                        let label = button.text.clone();
                        match (button.url.clone(), button.callback_data.clone()) {
                            (Some(url), _) => view! {
                                <a class="tg-button tg-link" href=url target="_blank" rel="noopener noreferrer">
                                    {label} " ↗"
                                </a>
                            }.into_any(),
                            (None, Some(data)) => {
                                let tap = data.clone();
                                view! {
                                    <button type="button" class="tg-button" data-callback=data
                                        disabled=move || busy.get() || on_tap.is_none()
                                        on:click=move |_| {
                                            if let Some(on_tap) = on_tap {
                                                on_tap.run(tap.clone());
                                            }
                                        }>
                                        {label}
                                    </button>
                                }.into_any()
                            }
                            (None, None) => view! {
                                <button type="button" class="tg-button" disabled=true>{label}</button>
                            }.into_any(),
                        }
                    }).collect_view()}
                </div>
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// One bubble as Telegram draws it: a photo or document above the text, the time (and
/// "edited") under it, its inline keyboard below. `me` puts it on the sender's side.
#[component]
pub fn TgBubble(
    #[prop(optional_no_strip, into)] text: Option<String>,
    /// `HTML` or `MarkdownV2` when the text is formatted.
    #[prop(optional_no_strip, into)]
    parse_mode: Option<String>,
    #[prop(optional)] me: bool,
    /// An address the browser can load ([`photo_src`]).
    #[prop(optional_no_strip, into)]
    photo: Option<String>,
    /// A photo that cannot be shown (a Telegram file id), drawn as a placeholder.
    #[prop(optional)]
    photo_hidden: bool,
    #[prop(optional_no_strip, into)] document: Option<String>,
    #[prop(optional_no_strip, into)] contact: Option<String>,
    #[prop(optional_no_strip, into)] time: Option<String>,
    /// The full date and time, shown on hover.
    #[prop(optional_no_strip, into)]
    time_title: Option<String>,
    #[prop(optional)] edited: bool,
    #[prop(optional)] buttons: Vec<Vec<TestChatInlineButton>>,
    #[prop(optional_no_strip)] on_tap: Option<Callback<String>>,
    #[prop(optional, into)] busy: Signal<bool>,
    #[prop(optional_no_strip)] message_id: Option<i64>,
) -> impl IntoView {
    let side = if me { "tg-line me" } else { "tg-line" };
    let class = if me { "tg-msg me" } else { "tg-msg" };
    let has_body = text.is_some() || contact.is_some() || document.is_some();
    view! {
        <div class=side data-message=message_id.map(|id| id.to_string())
            data-from=if me { "shopper" } else { "bot" }>
            <div class=class>
                {photo.map(|src| view! { <img src=src alt=move || t("Фото", "Photo") loading="lazy"/> })}
                {photo_hidden.then(|| view! {
                    <div class="tg-photo-stub" aria-label=move || t("Фото", "Photo")>"🖼 " {move || t("фото", "photo")}</div>
                })}
                {document.map(|name| view! { <div class="tg-attachment">"📄 " {name}</div> })}
                {contact.map(|phone| view! { <div class="tg-attachment">"👤 " {phone}</div> })}
                {text.map(|text| view! { <TgText text parse_mode/> })}
                {(has_body || time.is_some()).then(|| view! {
                    <div class="tg-time" title=time_title.clone()>
                        {edited.then(|| view! { <span>{move || t("изменено", "edited")} " · "</span> })}
                        {time.clone()}
                    </div>
                })}
            </div>
            <TgInlineKeyboard rows=buttons on_tap busy/>
        </div>
    }
}

/// `02.12.2026, 04:48` → `04:48`: a bubble shows the time, as Telegram does.
fn clock(full: &str) -> String {
    full.rsplit(", ").next().unwrap_or(full).to_owned()
}

/// A test-chat message as its bubble; `shopper_photo` is the picture the operator sent
/// (the API only says one was sent). Deleted messages are gone, as in Telegram.
pub fn message_view(
    message: TestChatMessage,
    shopper_photo: Option<String>,
    on_tap: Option<Callback<(i64, String)>>,
    busy: Signal<bool>,
) -> AnyView {
    if message.deleted {
        return ().into_any();
    }
    let me = message.from != "bot";
    let (photo, photo_hidden) = match message.photo.as_deref() {
        None => (None, false),
        Some(_) if me => (shopper_photo.clone(), shopper_photo.is_none()),
        Some(reference) => {
            let src = photo_src(reference);
            let hidden = src.is_none();
            (src, hidden)
        }
    };
    let id = message.message_id;
    let tap = on_tap.map(|on_tap| Callback::new(move |data: String| on_tap.run((id, data))));
    let full = when(&message.sent_at);
    view! {
        <TgBubble text=message.text parse_mode=message.parse_mode me photo=photo photo_hidden
            document=message.document contact=message.contact_phone
            time=clock(&full) time_title=full.clone() edited=message.edited buttons=message.inline_keyboard
            on_tap=tap busy message_id=Some(id)/>
    }
    .into_any()
}

/// The reply keyboard under the input: pressing a button calls `on_press` with it (the
/// caller sends its text, or the contact for a request-contact button).
#[component]
pub fn TgReplyKeyboard(
    keyboard: TestChatReplyKeyboard,
    on_press: Callback<TestChatKeyboardButton>,
    #[prop(optional, into)] busy: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="tg-keyboard" id="reply-keyboard" role="group"
            aria-label=move || t("Клавиатура бота", "The bot's keyboard")>
            {keyboard.rows.into_iter().map(|row| view! {
                <div class="tg-row">
                    {row.into_iter().map(|button| {
                        let label = button.text.clone();
                        let contact = button.request_contact;
                        view! {
                            <button type="button" class="tg-key" data-contact=contact.to_string()
                                disabled=move || busy.get()
                                on:click=move |_| on_press.run(button.clone())>
                                {contact.then_some("📱 ")}{label}
                            </button>
                        }
                    }).collect_view()}
                </div>
            }).collect_view()}
        </div>
    }
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn pause(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_and_web_addresses_are_shown_and_file_ids_are_not() {
        assert_eq!(photo_src("upload:12").as_deref(), Some("/api/uploads/12"));
        assert_eq!(
            photo_src("https://x/y.png").as_deref(),
            Some("https://x/y.png")
        );
        assert_eq!(photo_src("AgACAgIAAxk"), None);
    }
}
