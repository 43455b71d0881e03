//! The fake Bot API seen from a real HTTP client: envelopes, limits, scripted failures, files, webhooks, latency.

use std::{
    io::Cursor,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use axum::{http::HeaderMap, routing::post, Json, Router};
use promo_testkit::telegram::{Failure, FakeTelegram, Updates, DOWNLOAD};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

const TOKEN: &str = "123456:TEST-token";
const USER: i64 = 424_242;
const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    telegram: FakeTelegram,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Result<Self> {
        Ok(Self {
            telegram: FakeTelegram::start().await?,
            http: reqwest::Client::new(),
        })
    }

    fn url(&self, method: &str) -> String {
        format!("{}/bot{TOKEN}/{method}", self.telegram.base_url())
    }

    async fn call(&self, method: &str, params: Value) -> Result<(u16, Value)> {
        let response = self
            .http
            .post(self.url(method))
            .json(&params)
            .send()
            .await?;
        read(response).await
    }

    async fn send_text(&self, chat_id: i64, text: &str) -> Result<(u16, Value)> {
        self.call("sendMessage", json!({ "chat_id": chat_id, "text": text }))
            .await
    }
}

async fn read(response: reqwest::Response) -> Result<(u16, Value)> {
    let status = response.status().as_u16();
    let body = response.json().await.context("the fake answers JSON")?;
    Ok((status, body))
}

fn png(width: u32, height: u32) -> Result<Vec<u8>> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut bytes = Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

fn keyboard(data: &str) -> Value {
    json!({ "inline_keyboard": [[{ "text": "Участвовать", "callback_data": data }]] })
}

#[tokio::test]
async fn successful_calls_return_telegram_shaped_results_and_are_recorded() -> Result<()> {
    let h = Harness::start().await?;

    let (status, me) = h.call("getMe", json!({})).await?;
    assert_eq!(status, 200);
    assert_eq!(me["ok"], true);
    assert_eq!(me["result"]["id"], 123_456);
    assert_eq!(me["result"]["is_bot"], true);
    assert_eq!(me["result"]["username"], "promo_test_bot");

    let (status, first) = h.send_text(USER, "Привет!").await?;
    let (_, second) = h.send_text(USER, "Ещё раз").await?;
    let (_, other_chat) = h.send_text(USER + 1, "Другой чат").await?;
    assert_eq!(status, 200);
    let message = &first["result"];
    assert_eq!(message["message_id"], 1);
    assert_eq!(message["chat"], json!({ "id": USER, "type": "private" }));
    assert_eq!(message["from"]["id"], 123_456);
    assert_eq!(message["text"], "Привет!");
    assert!(message["date"].as_i64().unwrap_or_default() > 1_700_000_000);
    assert_eq!(second["result"]["message_id"], 2);
    assert_eq!(
        other_chat["result"]["message_id"], 1,
        "message ids are per chat"
    );

    let calls = h.telegram.calls_to("sendMessage");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].token, TOKEN);
    assert_eq!(calls[0].status, 200);
    assert_eq!(
        calls[0].params,
        json!({ "chat_id": USER, "text": "Привет!" })
    );
    assert_eq!(calls[0].result(), Some(message));
    let sent = h.telegram.sent_messages();
    assert_eq!(sent.len(), 3);
    assert_eq!((sent[1].chat_id, sent[1].message_id), (USER, 2));
    assert_eq!(sent[1].text, "Ещё раз");

    h.telegram.clear_calls();
    assert!(h.telegram.calls().is_empty());
    Ok(())
}

#[tokio::test]
async fn unknown_methods_get_404_and_method_names_are_case_insensitive() -> Result<()> {
    let h = Harness::start().await?;

    let (status, body) = h.call("sendMesage", json!({})).await?;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 404, "description": "Not Found" })
    );

    let (status, _) = h
        .call("SENDMESSAGE", json!({ "chat_id": USER, "text": "x" }))
        .await?;
    assert_eq!(status, 200);
    assert_eq!(h.telegram.calls_to("sendmessage").len(), 1);
    assert_eq!(h.telegram.calls()[0].method, "sendMesage");
    Ok(())
}

#[tokio::test]
async fn form_and_query_parameters_are_recorded_with_the_same_types_as_json() -> Result<()> {
    let h = Harness::start().await?;
    let markup = keyboard("r:c:12").to_string();
    let response = h
        .http
        .post(h.url("sendMessage"))
        .form(&[
            ("chat_id", USER.to_string().as_str()),
            ("text", "123"),
            ("reply_markup", markup.as_str()),
            ("allow_paid_broadcast", "true"),
        ])
        .send()
        .await?;
    let (status, body) = read(response).await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["reply_markup"], keyboard("r:c:12"));

    let response = h
        .http
        .get(format!(
            "{}?chat_id={USER}&action=typing",
            h.url("sendChatAction")
        ))
        .send()
        .await?;
    assert_eq!(
        read(response).await?,
        (200, json!({ "ok": true, "result": true }))
    );

    let calls = h.telegram.calls();
    assert_eq!(calls[0].params["chat_id"], USER);
    assert_eq!(calls[0].params["text"], "123");
    assert_eq!(calls[0].params["reply_markup"], keyboard("r:c:12"));
    assert_eq!(calls[0].params["allow_paid_broadcast"], true);
    assert_eq!(
        calls[1].params,
        json!({ "chat_id": USER, "action": "typing" })
    );
    assert_eq!(
        h.telegram.sent_messages()[0].reply_markup,
        Some(keyboard("r:c:12"))
    );
    Ok(())
}

#[tokio::test]
async fn malformed_requests_get_a_400_envelope_and_the_server_keeps_serving() -> Result<()> {
    let h = Harness::start().await?;
    let response = h
        .http
        .post(h.url("sendMessage"))
        .header("content-type", "application/json")
        .body("{\"chat_id\": 1, \"text\": ")
        .send()
        .await?;
    let (status, body) = read(response).await?;
    assert_eq!(status, 400);
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], 400);
    assert!(body["description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Bad Request: "));

    let (status, body) = h.call("sendMessage", json!({ "text": "no chat" })).await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: chat_id is empty"))
    );
    let (status, _) = h.send_text(USER, "still alive").await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn with_a_required_token_other_tokens_get_401_unauthorized() -> Result<()> {
    let h = Harness::start().await?;
    h.telegram.require_token("999:other");

    let (status, body) = h.call("getMe", json!({})).await?;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
    );

    let response = h
        .http
        .post(format!("{}/bot999:other/getMe", h.telegram.base_url()))
        .send()
        .await?;
    let (status, body) = read(response).await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["id"], 999);
    Ok(())
}

#[tokio::test]
async fn a_scripted_429_carries_retry_after_and_later_calls_succeed() -> Result<()> {
    let h = Harness::start().await?;
    h.telegram.fail_next(
        "sendMessage",
        2,
        Failure::TooManyRequests { retry_after: 7 },
    );

    for _ in 0..2 {
        let (status, body) = h.send_text(USER, "flood").await?;
        assert_eq!(status, 429);
        assert_eq!(
            body,
            json!({
                "ok": false,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": { "retry_after": 7 },
            })
        );
    }
    let (status, body) = h.send_text(USER, "flood").await?;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["message_id"], 1,
        "failed sends create no message"
    );
    let statuses: Vec<u16> = h.telegram.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    Ok(())
}

#[tokio::test]
async fn scripted_server_errors_look_like_telegrams_own() -> Result<()> {
    let h = Harness::start().await?;
    h.telegram.fail_next("getMe", 1, Failure::ServerError);
    h.telegram.fail_next("getMe", 1, Failure::BadGateway);
    h.telegram
        .fail_next("getMe", 1, Failure::BadRequest("query is too old".into()));

    let (status, body) = h.call("getMe", json!({})).await?;
    assert_eq!((status, body["error_code"].clone()), (500, json!(500)));

    let response = h.http.post(h.url("getMe")).send().await?;
    assert_eq!(response.status().as_u16(), 502);
    assert!(response.text().await?.contains("502 Bad Gateway"));

    let (status, body) = h.call("getMe", json!({})).await?;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: query is too old");
    assert_eq!(h.call("getMe", json!({})).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn a_blocked_chat_gets_403_until_it_is_unblocked() -> Result<()> {
    let h = Harness::start().await?;
    h.telegram.block_chat(USER);

    let (status, body) = h.send_text(USER, "Акция!").await?;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 403,
            "description": "Forbidden: bot was blocked by the user",
        })
    );
    assert_eq!(
        h.send_text(USER + 1, "Акция!").await?.0,
        200,
        "other chats are fine"
    );

    h.telegram.fail_chat(USER + 2, Failure::Deactivated);
    let (_, body) = h.send_text(USER + 2, "Акция!").await?;
    assert_eq!(body["description"], "Forbidden: user is deactivated");

    h.telegram.chat_not_found(USER + 3);
    let (status, body) = h.send_text(USER + 3, "Акция!").await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: chat not found"))
    );

    h.telegram.unblock_chat(USER);
    assert_eq!(h.send_text(USER, "Акция!").await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn callback_data_over_64_bytes_is_button_data_invalid_even_when_it_is_32_cyrillic_letters_plus_one(
) -> Result<()> {
    let h = Harness::start().await?;
    let send = |data: String| {
        h.call(
            "sendMessage",
            json!({ "chat_id": USER, "text": "Выберите", "reply_markup": keyboard(&data) }),
        )
    };

    assert_eq!(send("я".repeat(32)).await?.0, 200, "64 bytes is the limit");
    assert_eq!(send("a".repeat(64)).await?.0, 200);
    for data in ["я".repeat(33), "a".repeat(65), String::new()] {
        let (status, body) = send(data).await?;
        assert_eq!(status, 400);
        assert_eq!(body["description"], "Bad Request: BUTTON_DATA_INVALID");
    }

    let (status, body) = h
        .call(
            "sendMessage",
            json!({ "chat_id": USER, "text": "x", "reply_markup": { "inline_keyboard": [[{ "text": "no action" }]] } }),
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    );
    Ok(())
}

#[tokio::test]
async fn message_text_is_checked_for_length_and_markup_like_telegram_does() -> Result<()> {
    let h = Harness::start().await?;
    let description = |body: Value| body["description"].as_str().unwrap_or_default().to_owned();

    let (status, body) = h.send_text(USER, "  \n ").await?;
    assert_eq!(status, 400);
    assert_eq!(description(body), "Bad Request: message text is empty");
    let (_, body) = h.send_text(USER, &"ж".repeat(4097)).await?;
    assert_eq!(description(body), "Bad Request: message is too long");
    assert_eq!(h.send_text(USER, &"ж".repeat(4096)).await?.0, 200);

    let html = |text: &str| {
        h.call(
            "sendMessage",
            json!({ "chat_id": USER, "text": text, "parse_mode": "HTML" }),
        )
    };
    let (status, body) = html("<b>Чек принят</b> &amp; сохранён").await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["text"], "Чек принят & сохранён");
    let (status, body) = html("Сумма < 100 ₽").await?;
    assert_eq!(status, 400);
    assert!(
        description(body).starts_with("Bad Request: can't parse entities: Unsupported start tag")
    );

    let (_, body) = h
        .call(
            "sendMessage",
            json!({ "chat_id": USER, "text": "Итого 1.5 ₽", "parse_mode": "MarkdownV2" }),
        )
        .await?;
    assert_eq!(
        description(body),
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
    );
    Ok(())
}

#[tokio::test]
async fn a_multipart_photo_upload_returns_a_file_id_that_can_be_sent_again_and_downloaded(
) -> Result<()> {
    let h = Harness::start().await?;
    let picture = png(640, 480)?;
    let form = Form::new()
        .text("chat_id", USER.to_string())
        .text("caption", "Победитель недели")
        .part(
            "photo",
            Part::bytes(picture.clone())
                .file_name("winner.png")
                .mime_str("image/png")?,
        );
    let response = h
        .http
        .post(h.url("sendPhoto"))
        .multipart(form)
        .send()
        .await?;
    let (status, body) = read(response).await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["caption"], "Победитель недели");
    let sizes = body["result"]["photo"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        sizes.len() >= 2,
        "Telegram returns several sizes: {sizes:?}"
    );
    let largest = sizes
        .iter()
        .max_by_key(|size| {
            size["width"].as_u64().unwrap_or(0) * size["height"].as_u64().unwrap_or(0)
        })
        .context("some size")?;
    assert_eq!(
        (largest["width"].clone(), largest["height"].clone()),
        (json!(640), json!(480))
    );
    let file_id = largest["file_id"].as_str().context("file_id")?.to_owned();

    let recorded = &h.telegram.calls_to("sendPhoto")[0].params;
    assert_eq!(
        recorded["photo"],
        json!({ "file": { "name": "winner.png", "len": picture.len() } })
    );
    assert_eq!(recorded["chat_id"], USER);

    // Broadcasts reuse the file_id instead of uploading again.
    let (status, again) = h
        .call(
            "sendPhoto",
            json!({ "chat_id": USER + 1, "photo": file_id }),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(again["result"]["photo"], body["result"]["photo"]);

    let (_, file) = h.call("getFile", json!({ "file_id": file_id })).await?;
    let path = file["result"]["file_path"].as_str().context("file_path")?;
    assert_eq!(file["result"]["file_size"], picture.len());
    let download = h
        .http
        .get(format!("{}/file/bot{TOKEN}/{path}", h.telegram.base_url()))
        .send()
        .await?;
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.bytes().await?.as_ref(), picture.as_slice());
    assert_eq!(
        h.telegram.file_bytes(&file_id).as_deref(),
        Some(picture.as_slice())
    );

    let (status, body) = h
        .call(
            "sendPhoto",
            json!({ "chat_id": USER, "photo": "not a file id" }),
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        "Bad Request: wrong file identifier/HTTP URL specified"
    );
    Ok(())
}

#[tokio::test]
async fn an_upload_that_is_not_a_picture_is_refused_as_a_photo_but_accepted_as_a_document(
) -> Result<()> {
    let h = Harness::start().await?;
    let upload = |field: &'static str, method: &'static str| {
        let form = Form::new().text("chat_id", USER.to_string()).part(
            field,
            Part::bytes(b"%PDF-1.4 receipt".to_vec()).file_name("receipt.pdf"),
        );
        h.http.post(h.url(method)).multipart(form).send()
    };

    let (status, body) = read(upload("photo", "sendPhoto").await?).await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: IMAGE_PROCESS_FAILED"))
    );

    let (status, body) = read(upload("document", "sendDocument").await?).await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["document"]["file_name"], "receipt.pdf");
    assert_eq!(body["result"]["document"]["mime_type"], "application/pdf");
    Ok(())
}

#[tokio::test]
async fn a_file_added_by_the_test_round_trips_through_get_file_and_download() -> Result<()> {
    let h = Harness::start().await?;
    let picture = png(1280, 960)?;
    let file_id = h.telegram.add_file(picture.clone(), "receipt.png");

    let (status, body) = h.call("getFile", json!({ "file_id": file_id })).await?;
    assert_eq!(status, 200);
    let file = &body["result"];
    assert_eq!(file["file_id"], file_id.as_str());
    assert_eq!(file["file_size"], picture.len());
    assert!(file["file_unique_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    let path = file["file_path"].as_str().context("file_path")?;
    assert!(path.starts_with("photos/"), "{path}");

    let url = format!("{}/file/bot{TOKEN}/{path}", h.telegram.base_url());
    let download = h.http.get(&url).send().await?;
    assert_eq!(download.bytes().await?.as_ref(), picture.as_slice());
    assert_eq!(h.telegram.calls_to(DOWNLOAD)[0].params["file_path"], path);

    let (status, body) = h
        .call("getFile", json!({ "file_id": "AgACAgIAAxkBAAIunknown" }))
        .await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: invalid file_id"))
    );
    let missing = h
        .http
        .get(format!(
            "{}/file/bot{TOKEN}/photos/missing.jpg",
            h.telegram.base_url()
        ))
        .send()
        .await?;
    assert_eq!(read(missing).await?.0, 404);

    // The same id works in an update, the way a user's photo reaches the bot.
    let update = Updates::photo(USER, &file_id, 1280, 960, picture.len() as u64);
    assert_eq!(update["message"]["photo"][1]["file_id"], file_id.as_str());
    Ok(())
}

#[tokio::test]
async fn editing_a_message_to_identical_content_is_not_modified() -> Result<()> {
    let h = Harness::start().await?;
    let (_, sent) = h
        .call(
            "sendMessage",
            json!({ "chat_id": USER, "text": "Подтвердите участие", "reply_markup": keyboard("r:c:1") }),
        )
        .await?;
    let message_id = sent["result"]["message_id"]
        .as_i64()
        .context("message_id")?;
    let edit = |params: Value| h.call("editMessageText", params);

    let (status, body) = edit(json!({
        "chat_id": USER, "message_id": message_id,
        "text": "Подтвердите участие", "reply_markup": keyboard("r:c:1"),
    }))
    .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
    );

    // Same text without reply_markup removes the keyboard, so it is a change.
    let (status, body) =
        edit(json!({ "chat_id": USER, "message_id": message_id, "text": "Подтвердите участие" }))
            .await?;
    assert_eq!(status, 200);
    assert!(body["result"].get("reply_markup").is_none());
    assert!(body["result"]["edit_date"].is_i64());
    let stored = h.telegram.message(USER, message_id).context("stored")?;
    assert!(stored.get("reply_markup").is_none());

    let (status, body) = edit(json!({ "chat_id": USER, "message_id": 999, "text": "x" })).await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: message to edit not found"))
    );
    Ok(())
}

#[tokio::test]
async fn other_methods_answer_like_the_bot_api() -> Result<()> {
    let h = Harness::start().await?;
    let (status, body) = h
        .call(
            "answerCallbackQuery",
            json!({ "callback_query_id": "42", "text": "Готово" }),
        )
        .await?;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));
    let (status, _) = h
        .call(
            "answerCallbackQuery",
            json!({ "callback_query_id": "42", "text": "x".repeat(201) }),
        )
        .await?;
    assert_eq!(status, 400);

    let (_, body) = h
        .call(
            "getChatMember",
            json!({ "chat_id": -1_001_234, "user_id": USER }),
        )
        .await?;
    assert_eq!(body["result"]["status"], "left");
    h.telegram.set_chat_member(-1_001_234, USER, "member");
    let (_, body) = h
        .call(
            "getChatMember",
            json!({ "chat_id": -1_001_234, "user_id": USER }),
        )
        .await?;
    assert_eq!(body["result"]["status"], "member");
    assert_eq!(body["result"]["user"]["id"], USER);

    let (_, sent) = h.send_text(USER, "удалить").await?;
    let message_id = sent["result"]["message_id"].clone();
    let delete = json!({ "chat_id": USER, "message_id": message_id });
    assert_eq!(h.call("deleteMessage", delete.clone()).await?.0, 200);
    let (status, body) = h.call("deleteMessage", delete).await?;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: message to delete not found"))
    );

    let (status, _) = h
        .call(
            "sendChatAction",
            json!({ "chat_id": USER, "action": "dancing" }),
        )
        .await?;
    assert_eq!(status, 400);
    Ok(())
}

/// An update as the receiver got it, with its secret header if any.
type Delivery = (Option<String>, Value);

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    /// A stand-in for the bot's webhook: `/hook` answers with a method call, `/broken` with 500.
    async fn start(&self) -> Result<String> {
        let seen = Arc::clone(&self.seen);
        let app = Router::new()
            .route(
                "/hook",
                post(move |headers: HeaderMap, Json(update): Json<Value>| async move {
                    let secret = headers
                        .get("x-telegram-bot-api-secret-token")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    let chat_id = update.pointer("/message/chat/id").cloned();
                    if let Ok(mut seen) = seen.lock() {
                        seen.push((secret, update));
                    }
                    Json(json!({ "method": "sendMessage", "chat_id": chat_id, "text": "Принято" }))
                }),
            )
            .route(
                "/broken",
                post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(base)
    }

    fn seen(&self) -> Vec<Delivery> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn updates_reach_the_webhook_set_by_the_bot_with_its_secret_header() -> Result<()> {
    let h = Harness::start().await?;
    let receiver = Receiver::default();
    let base = receiver.start().await?;

    assert!(h
        .telegram
        .deliver_update(Updates::text(USER, "/start"))
        .await
        .is_err());

    let (status, body) = h
        .call(
            "setWebhook",
            json!({ "url": format!("{base}/hook"), "secret_token": "bad secret!" }),
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["description"],
        "Bad Request: secret token contains unallowed characters"
    );

    let (status, body) = h
        .call(
            "setWebhook",
            json!({
                "url": format!("{base}/hook"),
                "secret_token": "s3cr3t_-Token",
                "allowed_updates": ["message", "callback_query"],
                "max_connections": 10,
            }),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"], true);
    assert_eq!(body["description"], "Webhook was set");

    let (_, info) = h.call("getWebhookInfo", json!({})).await?;
    assert_eq!(
        info["result"],
        json!({
            "url": format!("{base}/hook"),
            "has_custom_certificate": false,
            "pending_update_count": 0,
            "max_connections": 10,
            "allowed_updates": ["message", "callback_query"],
        })
    );

    let reply = h
        .telegram
        .deliver_update(Updates::text(USER, "/start"))
        .await?;
    assert_eq!(reply.status, 200);
    let call = reply
        .method_call()
        .context("the bot answered with a method call")?;
    assert_eq!(call["method"], "sendMessage");
    assert_eq!(call["chat_id"], USER);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some("s3cr3t_-Token"));
    assert_eq!(seen[0].1["message"]["text"], "/start");
    assert_eq!(seen[0].1["message"]["from"]["language_code"], "ru");

    let excluded = h
        .telegram
        .deliver_update(Updates::my_chat_member(USER, "member", "kicked"))
        .await;
    assert!(
        excluded.is_err(),
        "allowed_updates leaves my_chat_member out"
    );

    // Tests may bypass setWebhook, with or without a secret.
    let reply = h
        .telegram
        .deliver_update_to(
            &format!("{base}/hook"),
            None,
            Updates::contact(USER, "+79001234567", Some(USER)),
        )
        .await?;
    assert!(reply.is_success());
    assert_eq!(receiver.seen()[1].0, None);
    assert_eq!(receiver.seen()[1].1["message"]["contact"]["user_id"], USER);
    Ok(())
}

#[tokio::test]
async fn a_failing_webhook_is_reported_in_get_webhook_info() -> Result<()> {
    let h = Harness::start().await?;
    let base = Receiver::default().start().await?;
    h.call("setWebhook", json!({ "url": format!("{base}/broken") }))
        .await?;

    let reply = h
        .telegram
        .deliver_update(Updates::text(USER, "привет"))
        .await?;
    assert_eq!(reply.status, 500);
    assert!(!reply.is_success());
    let (_, info) = h.call("getWebhookInfo", json!({})).await?;
    assert_eq!(
        info["result"]["last_error_message"],
        "Wrong response from the webhook: 500 Internal Server Error"
    );
    assert!(info["result"]["last_error_date"].is_i64());

    let (status, body) = h.call("getUpdates", json!({})).await?;
    assert_eq!(status, 409);
    assert!(body["description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Conflict:"));
    let (_, body) = h.call("deleteWebhook", json!({})).await?;
    assert_eq!(body["description"], "Webhook was deleted");
    assert!(h.telegram.webhook().is_none());
    Ok(())
}

#[tokio::test]
async fn a_button_tap_carries_the_stored_message_and_must_match_a_button_on_it() -> Result<()> {
    let h = Harness::start().await?;
    let receiver = Receiver::default();
    let base = receiver.start().await?;
    let (_, sent) = h
        .call(
            "sendMessage",
            json!({ "chat_id": USER, "text": "Подтвердите", "reply_markup": keyboard("r:c:7") }),
        )
        .await?;
    let message_id = sent["result"]["message_id"]
        .as_i64()
        .context("message_id")?;
    let hook = format!("{base}/hook");

    let tap = Updates::callback(USER, "r:c:7", message_id);
    h.telegram.deliver_update_to(&hook, None, tap).await?;
    let delivered = &receiver.seen()[0].1["callback_query"];
    assert_eq!(delivered["message"]["text"], "Подтвердите");
    assert_eq!(delivered["message"]["reply_markup"], keyboard("r:c:7"));
    assert_eq!(delivered["data"], "r:c:7");

    let impossible = h
        .telegram
        .deliver_update_to(&hook, None, Updates::callback(USER, "r:c:8", message_id))
        .await;
    assert!(
        impossible.is_err(),
        "there is no such button on the message"
    );
    assert_eq!(receiver.seen().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_user_blocking_the_bot_blocks_the_chat_and_their_messages_become_deletable() -> Result<()>
{
    let h = Harness::start().await?;
    let base = Receiver::default().start().await?;
    let hook = format!("{base}/hook");

    let text = Updates::text(USER, "+7 900 123-45-67");
    let user_message_id = text["message"]["message_id"].clone();
    h.telegram.deliver_update_to(&hook, None, text).await?;
    let delete = json!({ "chat_id": USER, "message_id": user_message_id });
    assert_eq!(h.call("deleteMessage", delete).await?.0, 200);
    let (_, body) = h.send_text(USER, "Бот пишет после пользователя").await?;
    assert!(body["result"]["message_id"].as_i64() > user_message_id.as_i64());
    assert_eq!(body["result"]["chat"]["first_name"], "Иван");

    h.telegram
        .deliver_update_to(
            &hook,
            None,
            Updates::my_chat_member(USER, "member", "kicked"),
        )
        .await?;
    assert_eq!(h.send_text(USER, "Вы здесь?").await?.0, 403);
    h.telegram
        .deliver_update_to(
            &hook,
            None,
            Updates::my_chat_member(USER, "kicked", "member"),
        )
        .await?;
    assert_eq!(h.send_text(USER, "С возвращением").await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn latency_delays_every_answer_but_concurrent_calls_wait_in_parallel() -> Result<()> {
    let h = Harness::start().await?;
    h.telegram.set_latency(Duration::from_millis(100));
    // Warm the connection pool so the measurement is about the fake, not TCP handshakes.
    h.send_text(USER, "warm-up").await?;

    let started = Instant::now();
    let calls = (0..20).map(|i| {
        let h = &h;
        async move {
            let begun = Instant::now();
            let (status, _) = h.send_text(USER + i, "Розыгрыш через час").await?;
            anyhow::Ok((status, begun.elapsed()))
        }
    });
    let results = futures::future::try_join_all(calls).await?;
    let total = started.elapsed();

    for (status, elapsed) in results {
        assert_eq!(status, 200);
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    }
    assert!(total < Duration::from_millis(300), "took {total:?}");
    Ok(())
}

#[tokio::test]
async fn wait_for_calls_wakes_up_when_calls_arrive_and_explains_a_timeout() -> Result<()> {
    let h = Arc::new(Harness::start().await?);
    let sender = Arc::clone(&h);
    tokio::spawn(async move {
        for i in 0..3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = sender.send_text(USER, &format!("сообщение {i}")).await;
        }
    });

    let calls = h.telegram.wait_for_calls("sendMessage", 3, WAIT).await?;
    assert_eq!(calls.len(), 3);

    let error = h
        .telegram
        .wait_for_calls("sendPhoto", 1, Duration::from_millis(50))
        .await
        .err()
        .context("nobody sends photos")?;
    assert!(error.to_string().contains("sendMessage×3"), "{error}");
    Ok(())
}

#[tokio::test]
async fn the_server_stops_when_the_last_handle_is_dropped() -> Result<()> {
    let telegram = FakeTelegram::start().await?;
    let clone = telegram.clone();
    let url = format!("{}/bot{TOKEN}/getMe", telegram.base_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;

    drop(telegram);
    assert_eq!(
        http.post(&url).send().await?.status().as_u16(),
        200,
        "a clone is alive"
    );

    drop(clone);
    let deadline = Instant::now() + WAIT;
    while http.post(&url).send().await.is_ok() {
        assert!(Instant::now() < deadline, "the server is still answering");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let explicit = FakeTelegram::start().await?;
    let url = format!("{}/bot{TOKEN}/getMe", explicit.base_url());
    explicit.shutdown().await;
    assert!(http.post(&url).send().await.is_err());
    Ok(())
}

#[test]
fn the_handle_can_be_cloned_and_shared_across_threads() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<FakeTelegram>();
}
