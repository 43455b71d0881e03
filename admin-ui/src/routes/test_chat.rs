//! The test chat: the operator talks to the bot as their own test shopper, and the chat
//! is drawn as Telegram shows it (inline buttons to tap, the reply keyboard to press).
//! Every step goes through `POST /api/test-chat/messages`; what the bot sends later (a
//! receipt's verdict) is fetched with `GET /api/test-chat?after=<last_seq>` for a while
//! after each step, so the answer appears without a reload.

use std::collections::HashMap;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use promo_api_types::panel::{
    TestChat as Transcript, TestChatContact, TestChatInput, TestChatKeyboardButton,
    TestChatMessage, TestChatNotice, TestChatPhoto, TestChatReplyKeyboard, TestChatReset,
    TestShopper,
};
use wasm_bindgen::JsCast;

use super::Page;
use crate::api::{self, Failure};
use crate::chat::{message_view, pause, TgReplyKeyboard};
use crate::components::{focus_soon, ErrorBox, FieldError, Loading};
use crate::state::{can, num, t};

/// Telegram's limit on a message's text.
const MAX_TEXT: usize = 4096;
/// The API's limit on a picture.
const MAX_PICTURE: f64 = 10.0 * 1024.0 * 1024.0;
/// Pauses between polls after a step, in ms: quick at first, then calmer; about 20 s in
/// all, longer than a receipt takes to be checked.
const FOLLOW: &[i32] = &[400, 700, 1000, 1500, 2000, 2500, 3000, 3000, 3000, 3000];
/// When the step's own answer already had the bot's reply, only a short look for more.
const FOLLOW_SHORT: usize = 3;
const COMMANDS: &[&str] = &["/start", "/help", "/status", "/language", "/cancel"];

/// The chat as the page holds it, and what the page is doing with it.
#[derive(Clone, Copy)]
struct Chat {
    messages: RwSignal<Vec<TestChatMessage>>,
    keyboard: RwSignal<Option<TestChatReplyKeyboard>>,
    shopper: RwSignal<Option<TestShopper>>,
    last_seq: RwSignal<i64>,
    notice: RwSignal<Option<TestChatNotice>>,
    /// The first load: `None` while it runs.
    ready: RwSignal<Option<Result<(), Failure>>>,
    busy: RwSignal<bool>,
    /// Polling for the bot's answer.
    waiting: RwSignal<bool>,
    error: RwSignal<Option<Failure>>,
    /// The pictures the operator sent in this visit, by message id (the API only says
    /// that one was sent).
    photos: RwSignal<HashMap<i64, String>>,
    /// Bumped by each step, so the polling of an earlier step stops.
    generation: RwSignal<u64>,
}

impl Chat {
    fn new() -> Chat {
        Chat {
            messages: RwSignal::new(Vec::new()),
            keyboard: RwSignal::new(None),
            shopper: RwSignal::new(None),
            last_seq: RwSignal::new(0),
            notice: RwSignal::new(None),
            ready: RwSignal::new(None),
            busy: RwSignal::new(false),
            waiting: RwSignal::new(false),
            error: RwSignal::new(None),
            photos: RwSignal::new(HashMap::new()),
            generation: RwSignal::new(0),
        }
    }

    /// Folds an answer in: new and changed messages by id, the keyboard and shopper as
    /// they are now. Returns how many of the bot's messages were new or changed.
    fn merge(self, chat: Transcript) -> usize {
        let from_bot = chat.messages.iter().filter(|m| m.from == "bot").count();
        self.messages.update(|list| {
            for message in chat.messages {
                match list.iter_mut().find(|m| m.message_id == message.message_id) {
                    Some(known) => *known = message,
                    None => list.push(message),
                }
            }
            list.sort_by_key(|m| m.message_id);
        });
        self.keyboard.set(chat.reply_keyboard);
        self.shopper.set(chat.shopper);
        self.last_seq.update(|seq| *seq = (*seq).max(chat.last_seq));
        if let Some(notice) = chat.notices.into_iter().rfind(|n| n.text.is_some()) {
            self.show_notice(notice);
        }
        from_bot
    }

    fn replace(self, chat: Transcript) {
        self.messages.set(Vec::new());
        self.last_seq.set(0);
        self.merge(chat);
    }

    /// A callback answer, shown as Telegram does: a toast that goes by itself, or an
    /// alert that stays until closed.
    fn show_notice(self, notice: TestChatNotice) {
        let seq = notice.seq;
        let alert = notice.show_alert;
        self.notice.set(Some(notice));
        if !alert {
            spawn_local(async move {
                pause(4000).await;
                if self
                    .notice
                    .try_get_untracked()
                    .flatten()
                    .is_some_and(|n| n.seq == seq)
                {
                    self.notice.set(None);
                }
            });
        }
    }

    /// Reads the whole chat again.
    fn reload(self) {
        spawn_local(async move {
            match api::get::<Transcript>("/api/test-chat").await {
                Ok(chat) => {
                    self.replace(chat);
                    self.ready.set(Some(Ok(())));
                }
                Err(failure) => {
                    if self.ready.try_get_untracked().flatten().is_none() {
                        self.ready.set(Some(Err(failure)));
                    } else {
                        self.error.set(Some(failure));
                    }
                }
            }
        });
    }

    /// One step of the operator: sent, the answer drawn, then the bot's later messages
    /// looked for. `picture` is the sent photo's local address, to draw it.
    fn send(self, input: TestChatInput, picture: Option<String>) {
        if self.busy.get_untracked() {
            return;
        }
        let photo_step = input.photo.is_some();
        self.generation.update(|g| *g += 1);
        let generation = self.generation.get_untracked();
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            let answer = api::post::<_, Transcript>("/api/test-chat/messages", &input).await;
            self.busy.set(false);
            match answer {
                Ok(chat) => {
                    if let Some(picture) = picture {
                        if let Some(mine) = chat
                            .messages
                            .iter()
                            .rfind(|m| m.from == "shopper" && m.photo.is_some())
                        {
                            let id = mine.message_id;
                            self.photos.update(|p| {
                                p.insert(id, picture);
                            });
                        }
                    }
                    let answered = self.merge(chat) > 0;
                    self.follow(generation, answered && !photo_step).await;
                }
                Err(failure) => self.error.set(Some(failure)),
            }
        });
    }

    /// Polls for what the bot sends after a step, until something new from it arrives,
    /// the schedule ends, or another step starts.
    async fn follow(self, generation: u64, answered: bool) {
        let steps = if answered {
            &FOLLOW[..FOLLOW_SHORT]
        } else {
            FOLLOW
        };
        self.waiting.set(!answered);
        for wait in steps {
            pause(*wait).await;
            if self.generation.try_get_untracked() != Some(generation) {
                return;
            }
            let Some(after) = self.last_seq.try_get_untracked() else {
                return;
            };
            let path = format!(
                "/api/test-chat{}",
                api::query(&[("after", after.to_string())])
            );
            match api::get::<Transcript>(&path).await {
                Ok(chat) => {
                    if self.generation.try_get_untracked() != Some(generation) {
                        return;
                    }
                    if self.merge(chat) > 0 {
                        break;
                    }
                }
                Err(failure) => {
                    self.error.set(Some(failure));
                    break;
                }
            }
        }
        self.waiting.set(false);
    }
}

#[component]
pub fn TestChat() -> impl IntoView {
    view! {
        <Page ru="Тестовый чат" en="Test chat" id="test-chat">
            {move || if can("manager") {
                view! { <ChatRoom/> }.into_any()
            } else {
                view! {
                    <div class="notice-plain" id="test-chat-denied">
                        {move || t(
                            "Тестовый чат доступен менеджерам и владельцам.",
                            "The test chat is for managers and owners.",
                        )}
                    </div>
                }.into_any()
            }}
        </Page>
    }
}

/// The base64 (standard alphabet) of `bytes`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The picture chosen in a file input: checked, read, and handed to `chat` as a step.
async fn send_picture(chat: Chat, file: web_sys::File) {
    let kind = file.type_();
    if kind != "image/jpeg" && kind != "image/png" {
        chat.error.set(Some(Failure::invalid(
            "photo.base64",
            t(
                "Нужна картинка JPEG или PNG.",
                "The picture must be a JPEG or a PNG.",
            ),
        )));
        return;
    }
    if file.size() > MAX_PICTURE || file.size() <= 0.0 {
        chat.error.set(Some(Failure::invalid(
            "photo.base64",
            t(
                "Картинка должна быть не больше 10 МБ.",
                "The picture must be at most 10 MB.",
            ),
        )));
        return;
    }
    let read = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await;
    let Ok(buffer) = read else {
        chat.error.set(Some(Failure::invalid(
            "photo.base64",
            t("Файл не читается.", "The file cannot be read."),
        )));
        return;
    };
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    let picture = web_sys::Url::create_object_url_with_blob(&file).ok();
    chat.send(
        TestChatInput {
            photo: Some(TestChatPhoto {
                base64: base64(&bytes),
            }),
            ..Default::default()
        },
        picture,
    );
}

#[component]
fn ChatRoom() -> impl IntoView {
    let chat = Chat::new();
    chat.reload();
    let draft = RwSignal::new(String::new());
    let phone = RwSignal::new("+79001234567".to_owned());
    let confirm_reset = RwSignal::new(false);
    let reset_note = RwSignal::new(None::<String>);
    let scroller = NodeRef::<html::Div>::new();
    let busy = Signal::derive(move || chat.busy.get());

    // The newest message in view, as in a messenger.
    Effect::new(move |_| {
        chat.messages.track();
        chat.waiting.track();
        spawn_local(async move {
            pause(0).await;
            if let Some(element) = scroller.get_untracked() {
                element.set_scroll_top(element.scroll_height());
            }
        });
    });

    let send_text = move |text: String| {
        chat.send(
            TestChatInput {
                text: Some(text),
                ..Default::default()
            },
            None,
        )
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            chat.error.set(Some(Failure::invalid(
                "text",
                t("Напишите сообщение.", "Type a message."),
            )));
            return;
        }
        if text.chars().count() > MAX_TEXT {
            chat.error.set(Some(Failure::invalid(
                "text",
                t(
                    "Сообщение длиннее 4096 символов.",
                    "The message is longer than 4096 characters.",
                ),
            )));
            return;
        }
        draft.set(String::new());
        send_text(text);
    };
    let on_tap = Callback::new(move |(message_id, data): (i64, String)| {
        chat.send(
            TestChatInput {
                callback_data: Some(data),
                message_id: Some(message_id),
                ..Default::default()
            },
            None,
        )
    });
    let on_key = Callback::new(move |button: TestChatKeyboardButton| {
        if button.request_contact {
            let number = phone.get_untracked().trim().to_owned();
            if number.is_empty() {
                chat.error.set(Some(Failure::invalid(
                    "contact.phone",
                    t(
                        "Укажите телефон тестового участника справа.",
                        "Enter the test shopper's phone first.",
                    ),
                )));
                return;
            }
            chat.send(
                TestChatInput {
                    contact: Some(TestChatContact { phone: number }),
                    ..Default::default()
                },
                None,
            );
        } else {
            send_text(button.text);
        }
    });
    let on_file = move |event: leptos::ev::Event| {
        let Some(input) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let file = input.files().and_then(|files| files.get(0));
        // Cleared, so choosing the same file again is a new step.
        input.set_value("");
        if let Some(file) = file {
            spawn_local(send_picture(chat, file));
        }
    };
    let reset = move || {
        confirm_reset.set(false);
        chat.busy.set(true);
        chat.generation.update(|g| *g += 1);
        spawn_local(async move {
            let answer = api::post_empty::<TestChatReset>("/api/test-chat/reset").await;
            chat.busy.set(false);
            match answer {
                Ok(removed) => {
                    reset_note.set(Some(format!(
                        "{} {} · {} {} · {} {}",
                        t("Начато заново: событий", "Started over: events"),
                        num(removed.events),
                        t("чеков", "receipts"),
                        num(removed.receipts),
                        t("билетов", "tickets"),
                        num(removed.tickets),
                    )));
                    chat.photos.set(HashMap::new());
                    chat.reload();
                }
                Err(failure) => chat.error.set(Some(failure)),
            }
        });
    };

    let transcript = move || {
        chat.messages
            .get()
            .into_iter()
            .map(|message| {
                let picture = chat
                    .photos
                    .with(|photos| photos.get(&message.message_id).cloned());
                message_view(message, picture, Some(on_tap), busy)
            })
            .collect_view()
    };

    view! {
        <div class="chat-layout">
            <div class="chat-window card">
                <div class="tg-head">
                    <span class="tg-avatar" aria-hidden="true">"◆"</span>
                    <div class="stack-tight">
                        <span class="tg-title">{move || t("Бот акции", "Promo bot")}</span>
                        <span class="muted small" id="chat-status">
                            {move || if chat.busy.get() || chat.waiting.get() {
                                t("печатает…", "typing…").to_owned()
                            } else {
                                match chat.shopper.get() {
                                    Some(s) => format!("{}: {}", t("тестовый участник", "test shopper"), crate::components::status_label(&s.status)),
                                    None => t("напишите /start, чтобы начать", "send /start to begin").to_owned(),
                                }
                            }}
                        </span>
                    </div>
                </div>
                <div class="tg chat-scroll" id="chat-messages" node_ref=scroller aria-live="polite">
                    {move || match chat.ready.get() {
                        None => view! { <Loading/> }.into_any(),
                        Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                        Some(Ok(())) if chat.messages.with(Vec::is_empty) => view! {
                            <div class="chat-empty" id="chat-empty">
                                <p>{move || t(
                                    "Чат пуст. Отправьте /start — бот ответит так же, как участнику в Telegram.",
                                    "The chat is empty. Send /start: the bot answers as it would a shopper in Telegram.",
                                )}</p>
                                <button type="button" class="btn btn-primary" id="chat-start"
                                    on:click=move |_| send_text("/start".to_owned())>"/start"</button>
                            </div>
                        }.into_any(),
                        Some(Ok(())) => transcript().into_any(),
                    }}
                    {move || chat.waiting.get().then(|| view! {
                        <div class="tg-line"><div class="tg-msg tg-typing" aria-label="typing"><span></span><span></span><span></span></div></div>
                    })}
                </div>
                {move || chat.notice.get().map(|notice| {
                    let text = notice.text.clone().unwrap_or_default();
                    if notice.show_alert {
                        view! {
                            <div class="chat-alert" role="alertdialog" id="chat-notice" data-alert="true">
                                <p>{text}</p>
                                <button type="button" class="btn btn-small" on:click=move |_| chat.notice.set(None)>"OK"</button>
                            </div>
                        }.into_any()
                    } else {
                        view! { <div class="chat-toast" role="status" id="chat-notice">{text}</div> }.into_any()
                    }
                })}
                <div class="chat-bottom">
                    {move || chat.error.get().map(|e| view! {
                        <div class="form-error" id="chat-error" role="alert" data-field=e.field.clone()>{e.message}</div>
                    })}
                    {move || chat.keyboard.get().map(|keyboard| view! {
                        <TgReplyKeyboard keyboard on_press=on_key busy/>
                    })}
                    <form class="chat-composer" on:submit=submit>
                        <label class="icon-button chat-attach" title=move || t("Отправить фото чека", "Send a receipt photo")>
                            <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2"
                                stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
                                <path d="M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"/>
                            </svg>
                            <span class="visually-hidden">{move || t("Фото", "Photo")}</span>
                            <input type="file" id="chat-photo" class="visually-hidden" accept="image/jpeg,image/png"
                                disabled=move || chat.busy.get() on:change=on_file/>
                        </label>
                        <label class="visually-hidden" for="chat-input">{move || t("Сообщение", "Message")}</label>
                        <input id="chat-input" autocomplete="off" maxlength="4096"
                            placeholder=move || t("Сообщение, команда или текст QR-кода", "A message, a command or a QR text")
                            prop:value=move || draft.get()
                            on:input=move |e| draft.set(event_target_value(&e))/>
                        <button type="submit" class="btn btn-primary" id="chat-send" disabled=move || chat.busy.get()>
                            {move || t("Отправить", "Send")}
                        </button>
                    </form>
                </div>
            </div>
            <aside class="chat-side stack">
                <div class="card stack">
                    <h2>{move || t("Команды", "Commands")}</h2>
                    <div class="row">
                        {COMMANDS.iter().map(|command| {
                            let command = command.to_string();
                            let label = command.clone();
                            view! {
                                <button type="button" class="btn btn-small chat-command" disabled=move || chat.busy.get()
                                    on:click=move |_| send_text(command.clone())>{label}</button>
                            }
                        }).collect_view()}
                    </div>
                    <label class="field">
                        <span>{move || t("Телефон для кнопки «Поделиться контактом»", "Phone the contact button shares")}</span>
                        <input id="test-phone" inputmode="tel" autocomplete="off" bind:value=phone/>
                        <FieldError error=chat.error field="contact.phone"/>
                    </label>
                    <p class="hint muted small">{move || t(
                        "Чат идёт через настоящую логику бота, но ничего не уходит в Telegram; тестовый участник не попадает в статистику, рассылки и розыгрыши.",
                        "The chat runs the bot's own logic but nothing reaches Telegram; the test shopper counts in no figure, broadcast or draw.",
                    )}</p>
                </div>
                <div class="card stack">
                    <h2>{move || t("Участник", "Shopper")}</h2>
                    {move || match chat.shopper.get() {
                        Some(s) => view! {
                            <dl class="facts" id="test-shopper">
                                <dt>{move || t("Статус", "Status")}</dt><dd>{crate::components::status_label(&s.status)}</dd>
                                <dt>"ID"</dt><dd class="mono">{s.user_id}</dd>
                                <dt>"Telegram"</dt><dd class="mono">{s.telegram_id}</dd>
                            </dl>
                        }.into_any(),
                        None => view! { <p class="muted">{move || t("Появится после первого сообщения.", "Appears with the first message.")}</p> }.into_any(),
                    }}
                    {move || reset_note.get().map(|note| view! { <div class="notice" id="chat-reset-note">{note}</div> })}
                    <div class="row">
                        <button type="button" class="btn" id="chat-refresh" disabled=move || chat.busy.get()
                            on:click=move |_| chat.reload()>{move || t("Обновить", "Refresh")}</button>
                        <button type="button" class="btn btn-danger" id="chat-reset" disabled=move || chat.busy.get()
                            on:click=move |_| {
                                confirm_reset.set(true);
                                focus_soon("chat-reset-confirm");
                            }>{move || t("Начать заново", "Start over")}</button>
                    </div>
                </div>
            </aside>
        </div>
        {move || confirm_reset.get().then(|| view! {
            <div class="dialog-backdrop" on:click=move |_| confirm_reset.set(false)
                on:keydown=move |e| if e.key() == "Escape" { confirm_reset.set(false) }>
                <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="reset-title"
                    on:click=|e| e.stop_propagation()>
                    <h2 id="reset-title">{move || t("Начать тестовый чат заново?", "Start the test chat over?")}</h2>
                    <p>{move || t(
                        "Переписка, регистрация, чеки и билеты тестового участника будут удалены.",
                        "The test shopper's transcript, registration, receipts and tickets are deleted.",
                    )}</p>
                    <div class="row">
                        <button type="button" class="btn btn-danger" id="chat-reset-confirm" on:click=move |_| reset()>
                            {move || t("Удалить и начать заново", "Delete and start over")}
                        </button>
                        <button type="button" class="btn" on:click=move |_| confirm_reset.set(false)>
                            {move || t("Отмена", "Cancel")}
                        </button>
                    </div>
                </div>
            </div>
        })}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(&[0xff, 0xd8, 0xff, 0xe0]), "/9j/4A==");
    }
}
