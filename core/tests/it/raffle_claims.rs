//! Prize claims after a draw, against real Postgres and the fake Bot API: the winner's
//! message with its buttons, confirm / consent / documents in the bot (sealed, shown to
//! owners only, every view audited), decline, the deadline sweep and the operator's
//! disqualification handing the prize to the next reserve, forged taps, and the purge of
//! documents after their retention. Draws are written directly (the runner is not used).

use chrono::Utc;
use promo_core::audit::Actor;
use promo_core::campaigns::claims;
use promo_core::campaigns::raffle_spec::{self, PrizeSpec, RaffleKind, RaffleMessage, RaffleSpec};
use promo_testkit::telegram::{Call, Updates};
use promo_testkit::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator, registered_shopper, text_of, WAIT};

/// A winner row of a test draw and its shopper.
#[derive(Debug, Clone, Copy)]
struct Pick {
    winner_id: i64,
    telegram_id: i64,
}

struct Drawn {
    campaign_id: i64,
    draw_id: i64,
    winner: Pick,
    reserves: Vec<Pick>,
}

/// A raffle of one prize worth `value_rub` (quantity 1) with `reserves` reserves, drawn:
/// the winner `notified` with a 72 h deadline and its message in the outbox, as the
/// runner leaves it. Shoppers' Telegram ids start at `telegram_base`.
async fn drawn(app: &TestApp, telegram_base: i64, value_rub: i64, reserves: usize) -> Drawn {
    drawn_with_photo(app, telegram_base, value_rub, reserves, None).await
}

/// [`drawn`] with a picture of the prize.
async fn drawn_with_photo(
    app: &TestApp,
    telegram_base: i64,
    value_rub: i64,
    reserves: usize,
    photo: Option<String>,
) -> Drawn {
    let bot_id = app.app.bot_id;
    let spec = RaffleSpec {
        title: "Финальный розыгрыш".into(),
        kind: RaffleKind::Final,
        window_from: None,
        window_to: None,
        time_zone: "Europe/Moscow".into(),
        prizes: vec![PrizeSpec {
            name: "iPhone 16".into(),
            quantity: 1,
            value_rub,
            photo,
        }],
        multiple_wins: false,
        burn_tickets: false,
        reserves_per_prize: i32::try_from(reserves).expect("reserves"),
        win_message: RaffleMessage {
            text: "{name}, вы выиграли {prize}! Билетов: {tickets}".into(),
            photo: None,
        },
        lose_message: None,
        notify_losers: false,
        scheduled_for: None,
    };
    let client = app.db().await.expect("db");
    let created = raffle_spec::create(
        &client,
        bot_id,
        &Actor::System,
        &spec,
        &app.app.settings.prize_key,
    )
    .await
    .expect("raffle");
    let campaign_id = created.campaign_id;
    client
        .execute(
            "UPDATE campaigns SET status = 'completed' WHERE id = $1",
            &[&campaign_id],
        )
        .await
        .expect("completed");
    let prize_id: i64 = client
        .query_one(
            "SELECT id FROM raffle_prizes WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .expect("prize")
        .get(0);
    let draw_id: i64 = client
        .query_one(
            "INSERT INTO raffle_draws (bot_id, campaign_id, prize, winner_count, seed,
                                       ticket_snapshot, algorithm)
             VALUES ($1, $2, 'iPhone 16', $3, '\\x00', '[]', 'test') RETURNING id",
            &[
                &bot_id,
                &campaign_id,
                &i32::try_from(1 + reserves).expect("n"),
            ],
        )
        .await
        .expect("draw")
        .get(0);
    let mut picks = Vec::new();
    for position in 1..=(1 + reserves) {
        let telegram_id = telegram_base + position as i64;
        let user_id = registered_shopper(
            app,
            telegram_id,
            &format!("Участник{position}"),
            None,
            &format!("+7999111{telegram_id:04}"),
        )
        .await;
        // The shopper has talked to the bot, so the fake knows the chat as Telegram would.
        deliver(app, &Updates::text(telegram_id, "/help")).await;
        let reserve = position > 1;
        let winner_id: i64 = client
            .query_one(
                "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw,
                                             prize_id, is_reserve, claim_status, activated_at,
                                             claim_deadline)
                 VALUES ($1, $2, $3, $4, 7, $5, $6, CASE WHEN $6 THEN 'reserve' ELSE 'notified' END,
                         CASE WHEN $6 THEN NULL ELSE now() END,
                         CASE WHEN $6 THEN NULL ELSE now() + interval '72 hours' END)
                 RETURNING id",
                &[
                    &draw_id,
                    &bot_id,
                    &user_id,
                    &i32::try_from(position).expect("position"),
                    &prize_id,
                    &reserve,
                ],
            )
            .await
            .expect("winner")
            .get(0);
        picks.push(Pick {
            winner_id,
            telegram_id,
        });
    }
    // Only what the claim sends from here on is looked at.
    app.telegram.clear_calls();
    let winner = picks[0];
    claims::write_claim_message(&client, bot_id, &app.app.texts, winner.winner_id)
        .await
        .expect("claim message");
    Drawn {
        campaign_id,
        draw_id,
        winner,
        reserves: picks[1..].to_vec(),
    }
}

/// Sends every outbox message still waiting, as the relay and its consumer would.
async fn send_outbox(app: &TestApp) {
    let ids: Vec<i64> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT id FROM outbox WHERE bot_id = $1 AND kind = 'message'
               AND status IN ('pending', 'relayed') ORDER BY id",
            &[&app.app.bot_id],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|row| row.get(0))
        .collect();
    for id in ids {
        app.app.sender.deliver(id, WAIT).await.expect("delivered");
    }
}

/// The messages the fake Bot API accepted for `chat_id`, oldest first.
fn sent_to(app: &TestApp, chat_id: i64) -> Vec<Call> {
    app.telegram
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(c.method.as_str(), "sendMessage" | "sendPhoto")
                && c.params["chat_id"] == json!(chat_id)
                && c.status == 200
        })
        .collect()
}

fn message_id(call: &Call) -> i64 {
    call.result()
        .and_then(|r| r["message_id"].as_i64())
        .expect("message id")
}

fn callback_data(params: &Value) -> Vec<String> {
    params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_owned))
        .collect()
}

/// Delivers an update like Telegram and returns every Bot API call it caused.
async fn deliver(app: &TestApp, update: &Value) -> Vec<Call> {
    let before = app.telegram.calls().len();
    let answer = app.send_update(update).await.expect("update delivered");
    assert_eq!(answer.status, 200, "webhook answered {answer:?}");
    app.telegram.calls()[before..].to_vec()
}

async fn tap(app: &TestApp, telegram_id: i64, data: &str, message_id: i64) -> Vec<Call> {
    deliver(app, &Updates::callback(telegram_id, data, message_id)).await
}

/// The text of the last message the bot sent among `calls`.
fn last_text(calls: &[Call]) -> String {
    calls
        .iter()
        .rev()
        .find(|c| c.method == "sendMessage")
        .map(|c| text_of(&c.params).to_owned())
        .unwrap_or_default()
}

/// The notice a tap was answered with (`None`: answered silently).
fn notice(calls: &[Call]) -> Option<String> {
    calls
        .iter()
        .find(|c| c.method == "answerCallbackQuery")
        .and_then(|c| c.params["text"].as_str().map(str::to_owned))
}

async fn say(app: &TestApp, telegram_id: i64, text: &str) -> String {
    last_text(&deliver(app, &Updates::text(telegram_id, text)).await)
}

/// `(claim_status, confirmed_at set, replaced_by)` of a winner row.
async fn claim(app: &TestApp, winner_id: i64) -> (String, bool, Option<i64>) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT claim_status, confirmed_at IS NOT NULL, replaced_by
             FROM raffle_winners WHERE id = $1",
            &[&winner_id],
        )
        .await
        .expect("winner");
    (row.get(0), row.get(1), row.get(2))
}

/// `(actor, details)` of the audit rows of `action`, oldest first.
async fn audit(app: &TestApp, action: &str) -> Vec<(String, Value)> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT actor, details FROM audit_log WHERE bot_id = $1 AND action = $2 ORDER BY id",
            &[&app.app.bot_id, &action],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The win message the winner got: its text, buttons and id.
async fn win_message(app: &TestApp, pick: Pick) -> (String, Vec<String>, i64) {
    send_outbox(app).await;
    let sent = sent_to(app, pick.telegram_id);
    assert_eq!(sent.len(), 1, "one win message: {sent:?}");
    (
        text_of(&sent[0].params).to_owned(),
        callback_data(&sent[0].params),
        message_id(&sent[0]),
    )
}

#[tokio::test]
async fn a_winner_confirms_consents_and_hands_in_documents_that_only_an_owner_reads() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7100, 120_000, 1).await;
    let winner = raffle.winner;
    let (text, buttons, message) = win_message(&app, winner).await;
    assert!(
        text.starts_with("Иван, вы выиграли iPhone 16! Билетов: 7"),
        "{text}"
    );
    assert!(
        text.contains("(Europe/Moscow)"),
        "the deadline line: {text}"
    );
    let id = winner.winner_id;
    assert_eq!(
        buttons,
        [format!("claim:ok:{id}"), format!("claim:no:{id}")]
    );

    let calls = tap(&app, winner.telegram_id, &format!("claim:ok:{id}"), message).await;
    let consent = calls
        .iter()
        .find(|c| c.method == "sendMessage")
        .unwrap_or_else(|| panic!("the consent question: {calls:#?}"));
    assert!(text_of(&consent.params).contains("согласие"));
    assert_eq!(
        callback_data(&consent.params),
        [format!("claim:consent:{id}"), format!("claim:no:{id}")]
    );
    assert!(
        calls.iter().any(|c| c.method == "editMessageReplyMarkup"),
        "the win message loses its buttons"
    );
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:consent:{id}"),
        message_id(consent),
    )
    .await;
    assert!(last_text(&calls).starts_with("Фамилия, имя и отчество"));
    assert_eq!(claim(&app, id).await.0, "notified", "documents still due");

    assert!(say(&app, winner.telegram_id, "Иванов")
        .await
        .starts_with("Нужно 2–3 слова"));
    assert!(say(&app, winner.telegram_id, "Иванов Иван Иванович")
        .await
        .starts_with("Серия и номер паспорта"));
    let refused = say(&app, winner.telegram_id, "4510 12345").await;
    assert!(
        refused.starts_with("Серия и номер — это 10 цифр"),
        "{refused}"
    );
    assert!(refused.contains("Серия и номер паспорта"), "asked again");
    assert!(say(&app, winner.telegram_id, "45 10 123456")
        .await
        .starts_with("ИНН"));
    let state: String = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT state::TEXT FROM dialogue_states WHERE chat_id = $1",
            &[&winner.telegram_id],
        )
        .await
        .expect("state")
        .get(0);
    assert!(
        !state.contains("123456") && !state.contains("Иванов"),
        "answers are sealed in the dialogue state: {state}"
    );
    let refused = say(&app, winner.telegram_id, "500100732258").await;
    assert!(refused.starts_with("Это не ИНН"), "{refused}");
    assert!(say(&app, winner.telegram_id, "500100732259")
        .await
        .starts_with("Адрес"));
    assert!(say(&app, winner.telegram_id, "Москва")
        .await
        .starts_with("Адрес должен быть"));
    let done = say(
        &app,
        winner.telegram_id,
        "101000, Москва, ул. Мясницкая, д. 1",
    )
    .await;
    assert!(done.starts_with("Спасибо! Данные получены"), "{done}");

    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT claim_status, documents, documents_at IS NOT NULL, consent_at IS NOT NULL
             FROM raffle_winners WHERE id = $1",
            &[&id],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, String>(0), "documents_received");
    let sealed: Vec<u8> = row.get(1);
    for plain in ["123456", "500100732259", "Мясницкая"] {
        assert!(
            !sealed.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} is not in the row's bytes"
        );
    }
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));

    let owner = operator(&app, "owner1", "owner").await;
    let manager = operator(&app, "manager1", "manager").await;
    let path = format!("/api/raffles/{}/winners/{id}/documents", raffle.campaign_id);
    for _ in 0..2 {
        let (status, body) = api(&app, &owner, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["passport"], "4510 123456");
        assert_eq!(body["inn"], "500100732259");
        assert_eq!(body["full_name"], "Иванов Иван Иванович");
        assert_eq!(body["address"], "101000, Москва, ул. Мясницкая, д. 1");
    }
    let (status, body) = api(&app, &manager, Method::GET, &path, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.get("passport").is_none());
    let views = audit(&app, "claim.documents_viewed").await;
    assert_eq!(views.len(), 2, "every owner's view, not the refused one");
    assert_eq!(views[0].0, "panel:owner1");
    let other_raffle = format!(
        "/api/raffles/{}/winners/{id}/documents",
        raffle.campaign_id + 1
    );
    assert_eq!(
        api(&app, &owner, Method::GET, &other_raffle, None).await.0,
        404
    );

    let handed = format!(
        "/api/raffles/{}/winners/{id}/handed-over",
        raffle.campaign_id
    );
    let (status, body) = api(&app, &manager, Method::POST, &handed, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["claim_status"], "handed_over");
    assert_eq!(
        api(&app, &manager, Method::POST, &handed, None).await.0,
        409
    );
    assert_eq!(audit(&app, "claim.handed_over").await.len(), 1);
}

#[tokio::test]
async fn an_uploaded_prize_picture_goes_with_the_message_as_its_bytes_and_the_buttons() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "manager6", "manager").await;
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([x as u8 * 3, y as u8 * 5, 7])
    }))
    .write_to(&mut png, image::ImageFormat::Png)
    .expect("png");
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .header(reqwest::header::COOKIE, &manager.cookie)
        .header("X-CSRF-Token", &manager.csrf)
        .header(reqwest::header::CONTENT_TYPE, "image/png")
        .body(png.into_inner())
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 201);
    let upload: Value = response.json().await.expect("upload body");
    let photo = upload["photo"].as_str().expect("upload:<id>").to_owned();
    let raffle = drawn_with_photo(&app, 8100, 50_000, 0, Some(photo)).await;
    send_outbox(&app).await;
    let sent = sent_to(&app, raffle.winner.telegram_id);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "sendPhoto");
    assert!(
        sent[0].params["photo"]["file"].is_object(),
        "{:?}",
        sent[0].params
    );
    assert!(sent[0].params["caption"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Иван, вы выиграли"));
    assert_eq!(
        callback_data(&sent[0].params)[0],
        format!("claim:ok:{}", raffle.winner.winner_id)
    );
}

#[tokio::test]
async fn a_prize_of_4000_rubles_or_less_is_confirmed_at_consent_without_documents() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7200, 4_000, 0).await;
    let winner = raffle.winner;
    let id = winner.winner_id;
    let (_, _, message) = win_message(&app, winner).await;
    let manager = operator(&app, "manager2", "manager").await;
    let handed = format!(
        "/api/raffles/{}/winners/{id}/handed-over",
        raffle.campaign_id
    );
    assert_eq!(
        api(&app, &manager, Method::POST, &handed, None).await.0,
        409,
        "not before the claim is confirmed"
    );
    // Consent before confirming is no step the bot offered: only a forged client sends
    // it, under a message the fake does not know.
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:consent:{id}"),
        999_999,
    )
    .await;
    assert_eq!(
        notice(&calls).as_deref(),
        Some("Это действие больше недоступно.")
    );
    let calls = tap(&app, winner.telegram_id, &format!("claim:ok:{id}"), message).await;
    let consent = calls
        .iter()
        .find(|c| c.method == "sendMessage")
        .map(message_id)
        .expect("the consent question");
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:consent:{id}"),
        consent,
    )
    .await;
    assert!(last_text(&calls).starts_with("Спасибо! Получение приза «iPhone 16» подтверждено"));
    assert_eq!(claim(&app, id).await.0, "confirmed");
    assert_eq!(
        api(&app, &manager, Method::POST, &handed, None).await.0,
        200
    );
}

#[tokio::test]
async fn a_missed_deadline_calls_the_reserve_whose_message_arrives_exactly_once() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7300, 50_000, 2).await;
    let (winner, reserve) = (raffle.winner, raffle.reserves[0]);
    win_message(&app, winner).await;
    let pool = &app.app.pool;
    assert_eq!(
        claims::expire_due(pool, Utc::now()).await.expect("sweep"),
        0,
        "nothing is due yet"
    );
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE raffle_winners SET claim_deadline = now() - interval '1 minute' WHERE id = $1",
            &[&winner.winner_id],
        )
        .await
        .expect("deadline passed");
    assert_eq!(
        claims::expire_due(pool, Utc::now()).await.expect("sweep"),
        1
    );
    assert_eq!(
        claims::expire_due(pool, Utc::now()).await.expect("again"),
        0
    );
    send_outbox(&app).await;
    send_outbox(&app).await;

    assert_eq!(
        claim(&app, winner.winner_id).await,
        ("expired".to_owned(), false, Some(reserve.winner_id))
    );
    assert_eq!(claim(&app, reserve.winner_id).await.0, "notified");
    assert_eq!(claim(&app, raffle.reserves[1].winner_id).await.0, "reserve");
    let sent = sent_to(&app, reserve.telegram_id);
    assert_eq!(sent.len(), 1, "the reserve is told once: {sent:?}");
    assert!(text_of(&sent[0].params).starts_with("Иван, вы выиграли iPhone 16!"));
    assert_eq!(
        callback_data(&sent[0].params)[0],
        format!("claim:ok:{}", reserve.winner_id)
    );
    let deadline_ok: bool = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT claim_deadline BETWEEN now() + interval '71 hours' AND now() + interval '73 hours'
                    AND activated_at IS NOT NULL
             FROM raffle_winners WHERE id = $1",
            &[&reserve.winner_id],
        )
        .await
        .expect("reserve")
        .get(0);
    assert!(deadline_ok, "the reserve gets a fresh 72-hour deadline");
    let rerolled = audit(&app, "raffle.rerolled").await;
    assert_eq!(rerolled.len(), 1);
    assert_eq!(rerolled[0].0, "system");
    assert_eq!(rerolled[0].1["reason"], "expired");
    assert_eq!(rerolled[0].1["from_winner"], json!(winner.winner_id));
    assert_eq!(rerolled[0].1["to_winner"], json!(reserve.winner_id));
    assert_eq!(rerolled[0].1["draw_id"], json!(raffle.draw_id));
    // The expired winner's buttons no longer do anything.
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:ok:{}", winner.winner_id),
        999_999,
    )
    .await;
    assert_eq!(
        notice(&calls).as_deref(),
        Some("Это действие больше недоступно.")
    );
}

#[tokio::test]
async fn a_winner_who_declines_twice_over_hands_the_prize_to_the_reserve() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7400, 3_000, 1).await;
    let (winner, reserve) = (raffle.winner, raffle.reserves[0]);
    let id = winner.winner_id;
    let (_, _, message) = win_message(&app, winner).await;
    let calls = tap(&app, winner.telegram_id, &format!("claim:no:{id}"), message).await;
    let question = calls
        .iter()
        .find(|c| c.method == "sendMessage")
        .expect("asked once more");
    assert!(text_of(&question.params).starts_with("Точно отказаться"));
    assert_eq!(claim(&app, id).await.0, "notified", "not yet");
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:decline:{id}"),
        message_id(question),
    )
    .await;
    assert!(last_text(&calls).starts_with("Вы отказались от приза"));
    assert_eq!(
        claim(&app, id).await,
        ("declined".to_owned(), false, Some(reserve.winner_id))
    );
    assert_eq!(claim(&app, reserve.winner_id).await.0, "notified");
    send_outbox(&app).await;
    assert_eq!(sent_to(&app, reserve.telegram_id).len(), 1);
    let rerolled = audit(&app, "raffle.rerolled").await;
    assert_eq!(rerolled.len(), 1);
    assert_eq!(rerolled[0].1["reason"], "declined");
    // Declining again (a forged or replayed tap) changes nothing.
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:decline:{id}"),
        999_999,
    )
    .await;
    assert_eq!(
        notice(&calls).as_deref(),
        Some("Это действие больше недоступно.")
    );
    assert_eq!(audit(&app, "raffle.rerolled").await.len(), 1);
}

#[tokio::test]
async fn a_forged_tap_on_someone_elses_prize_changes_nothing() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7500, 50_000, 1).await;
    let (winner, reserve) = (raffle.winner, raffle.reserves[0]);
    let id = winner.winner_id;
    win_message(&app, winner).await;
    // The reserve, in its own chat, taps buttons carrying the winner's row.
    for data in [
        format!("claim:ok:{id}"),
        format!("claim:consent:{id}"),
        format!("claim:no:{id}"),
        format!("claim:decline:{id}"),
        format!("claim:ok:{}", reserve.winner_id),
        "claim:ok:999999".to_owned(),
    ] {
        let calls = tap(&app, reserve.telegram_id, &data, 999_999).await;
        assert_eq!(
            notice(&calls).as_deref(),
            Some("Это действие больше недоступно."),
            "{data}"
        );
        assert!(
            !calls.iter().any(|c| c.method == "sendMessage"),
            "{data}: {calls:?}"
        );
    }
    assert_eq!(claim(&app, id).await, ("notified".to_owned(), false, None));
    assert_eq!(claim(&app, reserve.winner_id).await.0, "reserve");
    assert!(audit(&app, "raffle.rerolled").await.is_empty());
    // A tap under a message in someone else's chat is refused too.
    let mut forged = Updates::callback(winner.telegram_id, &format!("claim:decline:{id}"), 999_999);
    forged["callback_query"]["message"]["chat"]["id"] = json!(reserve.telegram_id);
    deliver(&app, &forged).await;
    assert_eq!(claim(&app, id).await.0, "notified");
}

#[tokio::test]
async fn a_manager_disqualifies_a_winner_with_a_reason_and_the_reserve_wins() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7600, 50_000, 1).await;
    let (winner, reserve) = (raffle.winner, raffle.reserves[0]);
    let manager = operator(&app, "manager3", "manager").await;
    let viewer = operator(&app, "viewer3", "viewer").await;
    let path = |campaign: i64, winner_id: i64| {
        format!("/api/raffles/{campaign}/winners/{winner_id}/disqualify")
    };
    let own = path(raffle.campaign_id, winner.winner_id);
    let reason = json!({"reason": "Чеки с чужих карт"});
    assert_eq!(
        api(&app, &viewer, Method::POST, &own, Some(reason.clone()))
            .await
            .0,
        403
    );
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &own,
        Some(json!({"reason": " ab "})),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("reason")));
    let elsewhere = path(raffle.campaign_id + 1, winner.winner_id);
    assert_eq!(
        api(
            &app,
            &manager,
            Method::POST,
            &elsewhere,
            Some(reason.clone())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        claim(&app, winner.winner_id).await.0,
        "notified",
        "nothing changed"
    );

    let (status, body) = api(&app, &manager, Method::POST, &own, Some(reason.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ended"]["claim_status"], "disqualified");
    assert_eq!(body["ended"]["ended_reason"], "Чеки с чужих карт");
    assert_eq!(body["ended"]["replaced_by"], json!(reserve.winner_id));
    assert_eq!(body["promoted"]["winner_id"], json!(reserve.winner_id));
    assert_eq!(body["promoted"]["claim_status"], "notified");
    let rerolled = audit(&app, "raffle.rerolled").await;
    assert_eq!(rerolled.len(), 1);
    assert_eq!(rerolled[0].0, "panel:manager3");
    assert_eq!(rerolled[0].1["reason"], "disqualified");
    assert_eq!(rerolled[0].1["note"], "Чеки с чужих карт");
    send_outbox(&app).await;
    assert_eq!(sent_to(&app, reserve.telegram_id).len(), 1);
    assert_eq!(
        api(&app, &manager, Method::POST, &own, Some(reason))
            .await
            .0,
        409,
        "a winner is disqualified once"
    );
}

#[tokio::test]
async fn without_a_reserve_left_the_prize_stays_unclaimed_and_the_audit_log_says_so() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7700, 50_000, 0).await;
    let manager = operator(&app, "manager4", "manager").await;
    let path = format!(
        "/api/raffles/{}/winners/{}/disqualify",
        raffle.campaign_id, raffle.winner.winner_id
    );
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &path,
        Some(json!({"reason": "Сотрудник организатора"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["promoted"], Value::Null);
    assert!(audit(&app, "raffle.rerolled").await.is_empty());
    let unclaimed = audit(&app, "raffle.prize_unclaimed").await;
    assert_eq!(unclaimed.len(), 1);
    assert_eq!(
        unclaimed[0].1["from_winner"],
        json!(raffle.winner.winner_id)
    );
    assert_eq!(unclaimed[0].1["reason"], "disqualified");
}

#[tokio::test]
async fn documents_are_deleted_after_the_retention_period_and_the_purge_is_audited() {
    let app = spawn_app().await.expect("app");
    let old = drawn(&app, 7800, 50_000, 0).await;
    let fresh = drawn(&app, 7900, 50_000, 0).await;
    let client = app.db().await.expect("db");
    for (raffle, age_days) in [(&old, 40), (&fresh, 20)] {
        let id = raffle.winner.winner_id;
        let sealed = app.app.settings.prize_key.seal_documents(
            id,
            r#"{"full_name":"Иванов Иван","passport":"4510 123456"}"#.as_bytes(),
        );
        client
            .execute(
                "UPDATE raffle_winners SET claim_status = 'documents_received', documents = $2,
                        documents_at = now() - make_interval(days => $3)
                 WHERE id = $1",
                &[&id, &sealed, &age_days],
            )
            .await
            .expect("documents");
    }
    let now = Utc::now();
    assert_eq!(
        claims::purge_documents(&app.app.pool, now)
            .await
            .expect("purge"),
        0,
        "the default retention is three years"
    );
    let manager = operator(&app, "manager5", "manager").await;
    let (status, body) = api(
        &app,
        &manager,
        Method::PATCH,
        "/api/settings",
        Some(json!({"claim_documents_retention_days": 30})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api(
        &app,
        &manager,
        Method::PATCH,
        "/api/settings",
        Some(json!({"claim_documents_retention_days": 10})),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("claim_documents_retention_days"))
    );
    assert_eq!(
        claims::purge_documents(&app.app.pool, now)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(
        claims::purge_documents(&app.app.pool, now)
            .await
            .expect("again"),
        0
    );
    let row = client
        .query_one(
            "SELECT documents IS NULL, documents_purged_at IS NOT NULL FROM raffle_winners
             WHERE id = $1",
            &[&old.winner.winner_id],
        )
        .await
        .expect("row");
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    let purged = audit(&app, "claim.documents_purged").await;
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].1["winner_id"], json!(old.winner.winner_id));
    let owner = operator(&app, "owner5", "owner").await;
    let documents = |raffle: &Drawn| {
        format!(
            "/api/raffles/{}/winners/{}/documents",
            raffle.campaign_id, raffle.winner.winner_id
        )
    };
    assert_eq!(
        api(&app, &owner, Method::GET, &documents(&old), None)
            .await
            .0,
        404
    );
    assert_eq!(
        api(&app, &owner, Method::GET, &documents(&fresh), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_draw_without_a_raffle_model_gets_the_plain_win_text_without_buttons() {
    let app = spawn_app().await.expect("app");
    let bot = app.app.bot_id;
    let user = registered_shopper(&app, 8001, "Анна", None, "+79990008001").await;
    let client = app.db().await.expect("db");
    client
        .batch_execute(&format!(
            "INSERT INTO campaigns (id, bot_id, kind, status) VALUES (910001, {bot}, 'raffle', 'completed');
             INSERT INTO raffle_draws (id, bot_id, campaign_id, prize, winner_count, seed, ticket_snapshot, algorithm)
             VALUES (710001, {bot}, 910001, 'Сертификат', 1, '\\x00', '[]', 'test');
             INSERT INTO raffle_winners (id, draw_id, bot_id, user_id, position, tickets_at_draw)
             VALUES (810001, 710001, {bot}, {user}, 1, 3);"
        ))
        .await
        .expect("legacy draw");
    for _ in 0..2 {
        claims::write_claim_message(&client, bot, &app.app.texts, 810001)
            .await
            .expect("message");
    }
    send_outbox(&app).await;
    let sent = sent_to(&app, 8001);
    assert_eq!(sent.len(), 1, "written once: {sent:?}");
    assert!(text_of(&sent[0].params).contains("Сертификат"));
    assert!(callback_data(&sent[0].params).is_empty());
    assert_eq!(
        claims::deadline_hours(&client, bot).await.expect("hours"),
        72
    );
}

#[tokio::test]
async fn a_disqualified_winner_never_gets_the_prize_back_and_their_unsent_message_is_withdrawn() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7700, 50_000, 2).await;
    let (winner, same_user, next) = (raffle.winner, raffle.reserves[0], raffle.reserves[1]);
    let client = app.db().await.expect("db");
    // With multiple wins one shopper can hold the prize and a reserve of it.
    client
        .execute(
            "UPDATE raffle_winners SET user_id = (SELECT user_id FROM raffle_winners WHERE id = $1)
             WHERE id = $2",
            &[&winner.winner_id, &same_user.winner_id],
        )
        .await
        .expect("same shopper");
    let manager = operator(&app, "manager9", "manager").await;
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &format!(
            "/api/raffles/{}/winners/{}/disqualify",
            raffle.campaign_id, winner.winner_id
        ),
        Some(json!({"reason": "Чеки с чужих карт"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["promoted"]["winner_id"], json!(next.winner_id));
    assert_eq!(claim(&app, same_user.winner_id).await.0, "reserve");
    let withdrawn: String = client
        .query_one(
            "SELECT status FROM outbox WHERE bot_id = $1 AND dedup_key = $2",
            &[&app.app.bot_id, &claims::message_key(winner.winner_id)],
        )
        .await
        .expect("the winner's message")
        .get(0);
    assert_eq!(withdrawn, "discarded");
    send_outbox(&app).await;
    assert!(
        sent_to(&app, winner.telegram_id).is_empty(),
        "never told they won"
    );
    assert_eq!(sent_to(&app, next.telegram_id).len(), 1);
}

#[tokio::test]
async fn a_tap_after_the_deadline_changes_nothing_even_before_the_sweep_runs() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7800, 500, 1).await;
    let winner = raffle.winner;
    let (_, _, message) = win_message(&app, winner).await;
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE raffle_winners SET claim_deadline = now() - interval '1 minute' WHERE id = $1",
            &[&winner.winner_id],
        )
        .await
        .expect("past the deadline");
    let id = winner.winner_id;
    let calls = tap(&app, winner.telegram_id, &format!("claim:ok:{id}"), message).await;
    assert_eq!(
        notice(&calls).as_deref(),
        Some("Это действие больше недоступно.")
    );
    assert_eq!(claim(&app, id).await.0, "notified");
    assert_eq!(
        claims::expire_due(&app.app.pool, Utc::now())
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(claim(&app, id).await.0, "expired");
}

#[tokio::test]
async fn a_winner_who_leaves_the_documents_halfway_resumes_them_from_the_consent_button() {
    let app = spawn_app().await.expect("app");
    let raffle = drawn(&app, 7900, 50_000, 1).await;
    let winner = raffle.winner;
    let id = winner.winner_id;
    let (_, _, message) = win_message(&app, winner).await;
    let calls = tap(&app, winner.telegram_id, &format!("claim:ok:{id}"), message).await;
    let consent = calls
        .iter()
        .find(|c| c.method == "sendMessage")
        .map(message_id)
        .expect("the consent question");
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:consent:{id}"),
        consent,
    )
    .await;
    assert!(last_text(&calls).starts_with("Фамилия, имя и отчество"));
    assert!(
        !calls.iter().any(|c| c.method == "editMessageReplyMarkup"),
        "the consent button stays for coming back"
    );
    assert!(say(&app, winner.telegram_id, "Иванов Иван Иванович")
        .await
        .starts_with("Серия и номер паспорта"));
    // Off to something else: the dialogue is left.
    say(&app, winner.telegram_id, "/status").await;
    assert!(!say(&app, winner.telegram_id, "4510 123456")
        .await
        .starts_with("ИНН"));
    // The consent button brings the questions back, from the start.
    let calls = tap(
        &app,
        winner.telegram_id,
        &format!("claim:consent:{id}"),
        consent,
    )
    .await;
    assert!(
        last_text(&calls).starts_with("Фамилия, имя и отчество"),
        "{calls:#?}"
    );
    assert_eq!(claim(&app, id).await.0, "notified");
}
