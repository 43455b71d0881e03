//! Raffles through the panel's API: creating one publishes its seed's commitment at once
//! (in the answer, the list, the detail and the public record, with the seed nowhere
//! before the draw); every invalid field is refused by name and writes nothing; a viewer
//! cannot create; a scheduled raffle can be cancelled and a drawn one cannot; after a
//! draw the detail, the public record and the exports show each pick's prize, slot and
//! claim. Draws are inserted here as rows the way the runner records them, from the
//! raffle's own sealed seed, so these tests do not depend on how the runner draws.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use promo_core::campaigns::draw::{self, Snapshot};
use promo_testkit::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, give_tickets, operator, registered_shopper, Operator};

/// A valid request: two prizes (2 × iPhone, 1 × mug), one reserve each, drawn later.
fn request() -> Value {
    json!({
        "title": "Финальный розыгрыш",
        "kind": "final",
        "window_from": "2026-05-01",
        "window_to": "2026-05-31",
        "prizes": [
            {"name": "iPhone 16", "quantity": 2, "value_rub": 90000},
            {"name": "Кружка", "quantity": 1, "value_rub": 500, "photo": "https://example.com/mug.jpg"}
        ],
        "scheduled_for": "2031-06-01T12:00",
    })
}

async fn create(app: &TestApp, who: &Operator, body: Value) -> (u16, Value) {
    api(app, who, Method::POST, "/api/raffles", Some(body)).await
}

/// `(raffles, campaigns, audit rows)` of the bot: what a refused request must not change.
async fn written(app: &TestApp) -> (i64, i64, i64) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT (SELECT count(*) FROM raffles), (SELECT count(*) FROM campaigns),
                    (SELECT count(*) FROM audit_log WHERE action LIKE 'raffle.%'
                                                     OR action LIKE 'campaign.%')",
            &[],
        )
        .await
        .expect("counts");
    (row.get(0), row.get(1), row.get(2))
}

fn is_hex64(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test]
async fn a_created_raffle_shows_the_same_commitment_in_the_answer_the_list_the_detail_and_the_public_record_and_no_seed(
) {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (status, created) = create(&app, &manager, request()).await;
    assert_eq!(status, 201, "{created}");
    let commitment = created["raffle"]["seed_commitment"].clone();
    assert!(is_hex64(&commitment), "{created}");
    let id = created["raffle"]["id"].as_i64().expect("id");
    assert_eq!(created["raffle"]["status"], "scheduled");
    assert_eq!(created["raffle"]["kind"], "final");
    // 2 + 1 winners and one reserve for each of the two prizes.
    assert_eq!(
        (
            created["raffle"]["prizes"].clone(),
            created["raffle"]["picks"].clone()
        ),
        (2.into(), 5.into())
    );
    // 12:00 in Moscow.
    assert_eq!(created["raffle"]["scheduled_for"], "2031-06-01T09:00:00Z");
    assert!(created["raffle"]["draw_id"].is_null());
    assert!(created["draw"].is_null() && created["picks"] == json!([]));
    let spec = &created["spec"];
    assert_eq!(spec["window_from"], "2026-05-01T00:00");
    assert_eq!(spec["window_to"], "2026-06-01T00:00", "through 31 May");
    assert_eq!(spec["time_zone"], "Europe/Moscow");
    assert_eq!(spec["reserves_per_prize"], 1);
    assert_eq!(spec["prizes"][0]["needs_documents"], true);
    assert_eq!(spec["prizes"][1]["needs_documents"], false);
    assert_eq!(spec["prizes"][1]["photo"], "https://example.com/mug.jpg");
    let default_text = spec["win_message"]["text"].as_str().unwrap_or_default();
    assert!(
        default_text.contains("{name}") && default_text.contains("{prize}"),
        "{default_text}"
    );
    assert!(spec["lose_message"].is_null());
    assert_eq!(spec["notify_losers"], false);

    let viewer = operator(&app, "vic", "viewer").await;
    let (status, list) = api(&app, &viewer, Method::GET, "/api/raffles", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["raffles"][0]["id"], id);
    assert_eq!(list["raffles"][0]["seed_commitment"], commitment);
    assert_eq!(list["raffles"][0]["title"], "Финальный розыгрыш");
    assert_eq!(
        list["raffles"][0]["record_url"],
        format!("/api/public/raffles/{id}")
    );
    let (status, detail) = api(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/raffles/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail, created);

    // No session: anyone can hold the raffle to its commitment before the draw.
    let public: Value = reqwest::get(app.url(&format!("/api/public/raffles/{id}")))
        .await
        .expect("record")
        .json()
        .await
        .expect("json");
    assert_eq!(public["seed_commitment"], commitment, "{public}");
    assert_eq!(public["title"], "Финальный розыгрыш");
    assert_eq!(public["scheduled_for"], "2031-06-01T09:00:00Z");
    assert_eq!(public["prizes"][0]["name"], "iPhone 16");
    assert_eq!(public["prizes"][0]["quantity"], 2);
    assert!(public["draw"].is_null());
    for body in [&created, &list, &public] {
        assert!(!body.to_string().contains("\"seed\""), "{body}");
    }

    let audit = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT actor, target, details FROM audit_log WHERE action = 'raffle.created'",
            &[],
        )
        .await
        .expect("audit row");
    assert_eq!(audit.get::<_, String>(0), "panel:mona");
    assert_eq!(audit.get::<_, String>(1), format!("campaign:{id}"));
    assert_eq!(audit.get::<_, Value>(2)["seed_commitment"], commitment);
}

#[tokio::test]
async fn a_raffle_without_a_schedule_is_due_at_once_and_an_rfc_3339_time_is_taken_as_is() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let mut now = request();
    if let Some(fields) = now.as_object_mut() {
        fields.remove("scheduled_for");
    }
    let (status, body) = create(&app, &manager, now).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["raffle"]["scheduled_for"].is_null());
    let mut later = request();
    later["scheduled_for"] = json!("2031-06-01T12:00:00+05:00");
    later["kind"] = json!("intermediate");
    later["burn_tickets"] = json!(true);
    later["reserves_per_prize"] = json!(0);
    later["lose_message"] = json!({"text": "{name}, в этот раз не повезло"});
    later["notify_losers"] = json!(true);
    let (status, body) = create(&app, &manager, later).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["raffle"]["scheduled_for"], "2031-06-01T07:00:00Z");
    assert_eq!(body["raffle"]["picks"], 3);
    assert_eq!(body["spec"]["burn_tickets"], true);
    assert_eq!(body["spec"]["notify_losers"], true);
}

type Breaker = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn each_invalid_field_is_refused_with_a_400_naming_it_and_nothing_is_written() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let before = written(&app).await;
    let cases: Vec<(&str, Breaker)> = vec![
        ("title", Box::new(|r| r["title"] = json!(" "))),
        ("title", Box::new(|r| r["title"] = json!("a\u{0}b"))),
        (
            "title",
            Box::new(|r| {
                if let Some(fields) = r.as_object_mut() {
                    fields.remove("title");
                }
            }),
        ),
        ("kind", Box::new(|r| r["kind"] = json!("weekly"))),
        (
            "window_from",
            Box::new(|r| r["window_from"] = json!("01.05.2026")),
        ),
        (
            "window_to",
            Box::new(|r| r["window_to"] = json!("2026-13-01")),
        ),
        (
            "window_to",
            Box::new(|r| r["window_to"] = json!("2026-04-01")),
        ),
        ("prizes", Box::new(|r| r["prizes"] = json!([]))),
        (
            "prizes[0].name",
            Box::new(|r| r["prizes"][0]["name"] = json!("")),
        ),
        (
            "prizes[1].quantity",
            Box::new(|r| r["prizes"][1]["quantity"] = json!(0)),
        ),
        (
            "prizes[0].quantity",
            Box::new(|r| r["prizes"][0]["quantity"] = json!(99_999_999_999i64)),
        ),
        (
            "prizes[0].value_rub",
            Box::new(|r| r["prizes"][0]["value_rub"] = json!(-1)),
        ),
        (
            "prizes[1].photo",
            Box::new(|r| r["prizes"][1]["photo"] = json!("upload:x")),
        ),
        (
            "prizes[0].photo",
            Box::new(|r| r["prizes"][0]["photo"] = json!("upload:987654")),
        ),
        (
            "reserves_per_prize",
            Box::new(|r| r["reserves_per_prize"] = json!(101)),
        ),
        (
            "reserves_per_prize",
            Box::new(|r| r["reserves_per_prize"] = json!(-9_999_999_999i64)),
        ),
        (
            "win_message.text",
            Box::new(|r| r["win_message"] = json!({"text": "{name}: {phone}"})),
        ),
        (
            "win_message.text",
            Box::new(|r| r["win_message"] = json!({"text": "<b>{prize}</b>"})),
        ),
        (
            "win_message.photo",
            Box::new(|r| r["win_message"] = json!({"text": "{prize}", "photo": "upload:-1"})),
        ),
        (
            "lose_message.text",
            Box::new(|r| r["lose_message"] = json!({"text": ""})),
        ),
        (
            "lose_message",
            Box::new(|r| r["notify_losers"] = json!(true)),
        ),
        (
            "burn_tickets",
            Box::new(|r| r["burn_tickets"] = json!(true)),
        ),
        (
            "scheduled_for",
            Box::new(|r| r["scheduled_for"] = json!("2020-01-01T10:00")),
        ),
        (
            "scheduled_for",
            Box::new(|r| r["scheduled_for"] = json!("2020-01-01T10:00:00Z")),
        ),
        (
            "scheduled_for",
            Box::new(|r| r["scheduled_for"] = json!("tomorrow")),
        ),
    ];
    for (field, break_it) in cases {
        let mut body = request();
        break_it(&mut body);
        let (status, answer) = create(&app, &manager, body.clone()).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{body} → {answer}"
        );
        assert_eq!(answer["error"], "bad_request");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    // A field of the wrong type is the body extractor's 422, which names it too.
    let mut wrong = request();
    wrong["prizes"][0]["quantity"] = json!("two");
    let (status, answer) = create(&app, &manager, wrong).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("quantity")),
        "{answer}"
    );
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn a_viewer_cannot_create_a_raffle_and_nothing_is_written() {
    let app = spawn_app().await.expect("app");
    let viewer = operator(&app, "vic", "viewer").await;
    let before = written(&app).await;
    let (status, answer) = create(&app, &viewer, request()).await;
    assert_eq!((status, answer["error"].clone()), (403, "forbidden".into()));
    assert_eq!(written(&app).await, before);
    // A manager's request without its CSRF token is refused the same way.
    let manager = operator(&app, "mona", "manager").await;
    let forged = Operator {
        cookie: manager.cookie,
        csrf: "wrong".into(),
    };
    let (status, _) = create(&app, &forged, request()).await;
    assert_eq!(status, 403);
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn a_scheduled_raffle_is_cancelled_once_with_its_audit_row_and_a_second_cancel_is_a_409() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (_, created) = create(&app, &manager, request()).await;
    let id = created["raffle"]["id"].as_i64().expect("id");
    let path = format!("/api/raffles/{id}/cancel");
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, _) = api(&app, &viewer, Method::POST, &path, None).await;
    assert_eq!(status, 403);

    let (status, body) = api(&app, &manager, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["raffle"]["status"], "cancelled");
    assert_eq!(
        body["raffle"]["seed_commitment"],
        created["raffle"]["seed_commitment"]
    );
    let (status, again) = api(&app, &manager, Method::POST, &path, None).await;
    assert_eq!((status, again["error"].clone()), (409, "conflict".into()));
    assert!(
        again["message"]
            .as_str()
            .is_some_and(|m| m.contains("cancelled")),
        "{again}"
    );
    let audited: Vec<(String, String)> = app
        .db()
        .await
        .expect("db")
        .query(
            "SELECT actor, target FROM audit_log WHERE action = 'campaign.cancel'",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        audited,
        vec![("panel:mona".to_owned(), format!("campaign:{id}"))]
    );
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        "/api/raffles/987654/cancel",
        None,
    )
    .await;
    assert_eq!(status, 404);
    // A campaign that is no raffle is not one here either.
    let (status, campaign) = api(
        &app,
        &manager,
        Method::POST,
        "/api/campaigns",
        Some(json!({"kind": "broadcast", "text": "Привет", "scheduled_for": "2031-01-01T10:00"})),
    )
    .await;
    assert_eq!(status, 201, "{campaign}");
    let other = campaign["campaign"]["id"].as_i64().expect("campaign id");
    for path in [
        format!("/api/raffles/{other}"),
        format!("/api/public/raffles/{other}"),
    ] {
        let (status, _) = api(&app, &manager, Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/raffles/{other}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// A raffle recorded as drawn by [`drawn`].
struct Drawn {
    raffle_id: i64,
    draw_id: i64,
    /// `(user_id, tickets)` in pick order.
    picks: Vec<(i64, i64)>,
    seed_commitment: String,
}

/// Creates the raffle of [`request`] and records its draw as the runner does: the seed
/// opened from the raffle's own seal, the snapshot of everyone's tickets, five picks (two
/// iPhones and a mug, then the reserves of each prize), the campaign completed. Then the
/// first iPhone winner lets the deadline pass and the iPhone reserve takes over.
async fn drawn(app: &TestApp, manager: &Operator) -> Drawn {
    let names = [
        "Анна Смирнова",
        "=cmd|' /C calc'!A0",
        "Борис Петров",
        "Вера",
        "Глеб Орлов",
        "Дина Ким",
    ];
    let mut users = Vec::new();
    for (n, name) in (0i64..).zip(names) {
        let user = registered_shopper(
            app,
            7_100 + n,
            name,
            Some(&format!("user{n}")),
            &format!("+7999111{n:04}"),
        )
        .await;
        give_tickets(app, user, (n + 1) as i32).await;
        users.push((user, n + 1));
    }
    let (status, created) = create(app, manager, request()).await;
    assert_eq!(status, 201, "{created}");
    let raffle_id = created["raffle"]["id"].as_i64().expect("id");
    let client = app.db().await.expect("db");
    let sealed: Vec<u8> = client
        .query_one(
            "SELECT seed_sealed FROM raffles WHERE campaign_id = $1",
            &[&raffle_id],
        )
        .await
        .expect("raffle")
        .get(0);
    let seed = app
        .app
        .settings
        .prize_key
        .open_seed(raffle_id, &sealed)
        .expect("the raffle's seed opens");
    let mut snapshot = Snapshot::new();
    for (user, tickets) in &users {
        snapshot.push(*user, *tickets).expect("sorted");
    }
    let picks = draw::draw(&snapshot, &seed, 5);
    let text: String = snapshot
        .entries()
        .map(|(user, tickets)| format!("{user}:{tickets}\n"))
        .collect();
    let bot = app.app.bot_id;
    let draw_id: i64 = client
        .query_one(
            "INSERT INTO raffle_draws
                 (bot_id, campaign_id, prize, winner_count, seed, snapshot,
                  algorithm, snapshot_hash, seed_commitment, participants, tickets)
             VALUES ($1, $2, 'Финальный розыгрыш', 5, $3, $4, $5, $6, $7, 6, 21)
             RETURNING id",
            &[
                &bot,
                &raffle_id,
                &seed.as_slice(),
                &text.as_bytes(),
                &draw::ALGORITHM,
                &snapshot.hash(),
                &draw::commitment(&seed),
            ],
        )
        .await
        .expect("draw")
        .get(0);
    let prizes: Vec<i64> = client
        .query(
            "SELECT id FROM raffle_prizes WHERE campaign_id = $1 ORDER BY position",
            &[&raffle_id],
        )
        .await
        .expect("prizes")
        .iter()
        .map(|row| row.get(0))
        .collect();
    // Slots: iPhone, iPhone, mug, then the iPhone's reserve and the mug's.
    let slots = [
        (prizes[0], false),
        (prizes[0], false),
        (prizes[1], false),
        (prizes[0], true),
        (prizes[1], true),
    ];
    for (position, ((user, tickets), (prize, reserve))) in (1i32..).zip(picks.iter().zip(slots)) {
        let tickets = i32::try_from(*tickets).expect("tickets");
        client
            .execute(
                "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw,
                                             prize_id, is_reserve, claim_status, activated_at,
                                             claim_deadline)
                 VALUES ($1, $2, $3, $4, $5, $6, $7,
                         CASE WHEN $7 THEN 'reserve' ELSE 'notified' END,
                         CASE WHEN $7 THEN NULL ELSE now() END,
                         CASE WHEN $7 THEN NULL ELSE now() + interval '72 hours' END)",
                &[&draw_id, &bot, user, &position, &tickets, &prize, &reserve],
            )
            .await
            .expect("pick");
    }
    client
        .batch_execute(&format!(
            "UPDATE raffle_winners SET claim_status = 'notified', activated_at = now(),
                    claim_deadline = '2031-07-01T12:00:00Z'
             WHERE draw_id = {draw_id} AND position = 4;
             UPDATE raffle_winners SET claim_status = 'expired', ended_at = now(),
                    ended_reason = 'Анна Смирнова не ответила',
                    replaced_by = (SELECT id FROM raffle_winners WHERE draw_id = {draw_id} AND position = 4)
             WHERE draw_id = {draw_id} AND position = 1;
             UPDATE campaigns SET status = 'completed', finished_at = now() WHERE id = {raffle_id};"
        ))
        .await
        .expect("re-roll");
    Drawn {
        raffle_id,
        draw_id,
        picks,
        seed_commitment: created["raffle"]["seed_commitment"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[tokio::test]
async fn a_drawn_raffle_cannot_be_cancelled_and_stays_completed() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let drawn = drawn(&app, &manager).await;
    let (status, body) = api(
        &app,
        &manager,
        Method::POST,
        &format!("/api/raffles/{}/cancel", drawn.raffle_id),
        None,
    )
    .await;
    assert_eq!((status, body["error"].clone()), (409, "conflict".into()));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("drawn")),
        "{body}"
    );
    let (_, detail) = api(
        &app,
        &manager,
        Method::GET,
        &format!("/api/raffles/{}", drawn.raffle_id),
        None,
    )
    .await;
    assert_eq!(detail["raffle"]["status"], "completed");
    let cancels: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'campaign.cancel'",
            &[],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(cancels, 0);
}

#[tokio::test]
async fn after_the_draw_the_detail_reveals_the_seed_and_lists_each_pick_with_its_prize_slot_and_claim(
) {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let drawn = drawn(&app, &manager).await;
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, detail) = api(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/raffles/{}", drawn.raffle_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    let draw_view = &detail["draw"];
    assert_eq!(draw_view["draw_id"], drawn.draw_id);
    assert!(is_hex64(&draw_view["seed"]), "{draw_view}");
    // The revealed seed is the one committed to at creation.
    let seed = hex_bytes(draw_view["seed"].as_str().unwrap_or_default());
    assert_eq!(draw::commitment(&seed), drawn.seed_commitment);
    assert_eq!(draw_view["seed_commitment"], drawn.seed_commitment.as_str());
    assert_eq!(draw_view["algorithm"], draw::ALGORITHM);
    assert_eq!(
        (
            draw_view["participants"].clone(),
            draw_view["tickets"].clone()
        ),
        (6.into(), 21.into())
    );
    assert!(is_hex64(&draw_view["snapshot_hash"]));
    // What the server's own redo says, as the draw's verification does.
    let check = promo_core::raffle::verify_draw(&app.app.pool, app.app.bot_id, drawn.draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert_eq!(draw_view["verified"], check.verified());
    assert_eq!(draw_view["problems"], json!(check.problems));
    assert_eq!(detail["raffle"]["draw_id"], drawn.draw_id);
    assert_eq!(detail["raffle"]["participants"], 6);
    assert_eq!(
        detail["raffle"]["public_url"],
        format!("/api/public/draws/{}", drawn.draw_id)
    );

    let picks = detail["picks"].as_array().expect("picks");
    let shape: Vec<(i64, &str, bool, &str)> = picks
        .iter()
        .map(|p| {
            (
                p["position"].as_i64().unwrap_or_default(),
                p["prize"].as_str().unwrap_or_default(),
                p["reserve"].as_bool().unwrap_or_default(),
                p["claim_status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, "iPhone 16", false, "expired"),
            (2, "iPhone 16", false, "notified"),
            (3, "Кружка", false, "notified"),
            (4, "iPhone 16", true, "notified"),
            (5, "Кружка", true, "reserve"),
        ]
    );
    let users: Vec<(i64, i64)> = picks
        .iter()
        .map(|p| {
            (
                p["user_id"].as_i64().unwrap_or_default(),
                p["tickets_at_draw"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(users, drawn.picks);
    assert_eq!(picks[0]["replaced_by"], 4);
    assert!(picks[1]["replaced_by"].is_null());
    assert!(picks[1]["claim_deadline"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(picks[3]["claim_deadline"], "2031-07-01T12:00:00Z");
    assert!(picks[4]["claim_deadline"].is_null());
    assert!(picks.iter().all(|p| p["name"].is_string()
        && !p["phone_masked"]
            .as_str()
            .unwrap_or_default()
            .contains("99911")));

    let (status, winners) = api(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/raffles/{}/winners", drawn.raffle_id),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(winners["winners"], detail["picks"]);
}

fn hex_bytes(hex: &str) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = hex
            .get(2 * i..2 * i + 2)
            .and_then(|b| u8::from_str_radix(b, 16).ok())
            .unwrap_or_default();
    }
    seed
}

#[tokio::test]
async fn the_public_record_names_each_picks_prize_and_slot_and_the_reroll_with_its_reason_but_no_personal_data(
) {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let drawn = drawn(&app, &manager).await;
    let public: Value = reqwest::get(app.url(&format!("/api/public/raffles/{}", drawn.raffle_id)))
        .await
        .expect("record")
        .json()
        .await
        .expect("json");
    assert_eq!(public["status"], "completed", "{public}");
    assert_eq!(public["seed_commitment"], drawn.seed_commitment.as_str());
    let record = &public["draw"];
    assert_eq!(record["draw_id"], drawn.draw_id);
    assert_eq!(record["campaign_id"], drawn.raffle_id);
    assert_eq!(record["title"], "Финальный розыгрыш");
    assert_eq!(record["kind"], "final");
    assert_eq!(
        record["prizes"],
        json!([
            {"position": 1, "name": "iPhone 16", "quantity": 2, "value_rub": 90000},
            {"position": 2, "name": "Кружка", "quantity": 1, "value_rub": 500},
        ])
    );
    assert!(is_hex64(&record["seed"]));
    let slots: Vec<(String, bool)> = record["winners"]
        .as_array()
        .expect("winners")
        .iter()
        .map(|w| {
            (
                w["prize"].as_str().unwrap_or_default().to_owned(),
                w["reserve"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        slots,
        vec![
            ("iPhone 16".to_owned(), false),
            ("iPhone 16".to_owned(), false),
            ("Кружка".to_owned(), false),
            ("iPhone 16".to_owned(), true),
            ("Кружка".to_owned(), true),
        ]
    );
    assert_eq!(
        record["rerolls"],
        json!([{"position": 1, "replaced_by": 4, "prize": "iPhone 16", "reason": "expired"}])
    );
    // The operator's words about the re-roll, phones, usernames and surnames stay inside.
    let text = public.to_string();
    for private in [
        "не ответила",
        "+7999",
        "user0",
        "Смирнова",
        "claim_status",
        "phone",
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }
    // The draw's own record says the same.
    let by_draw: Value = reqwest::get(app.url(&format!("/api/public/draws/{}", drawn.draw_id)))
        .await
        .expect("record")
        .json()
        .await
        .expect("json");
    assert_eq!(&by_draw, record);
    let snapshot =
        reqwest::get(app.url(&format!("/api/public/draws/{}/snapshot.txt", drawn.draw_id)))
            .await
            .expect("snapshot")
            .text()
            .await
            .expect("text");
    assert_eq!(snapshot.lines().count(), 6);
    let missing = reqwest::get(app.url("/api/public/raffles/987654"))
        .await
        .expect("missing");
    assert_eq!(missing.status().as_u16(), 404);
}

async fn download(app: &TestApp, who: &Operator, path: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .header(reqwest::header::COOKIE, &who.cookie)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn the_exports_carry_each_picks_prize_slot_claim_status_and_deadline_with_formulas_defused() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let drawn = drawn(&app, &manager).await;
    let (status, bytes) = download(
        &app,
        &manager,
        &format!("/api/raffles/{}/winners.csv", drawn.raffle_id),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "position",
            "user_id",
            "name",
            "username",
            "phone",
            "tickets_at_draw",
            "notified_at",
            "prize",
            "slot",
            "claim_status",
            "claim_deadline"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 5);
    let tail: Vec<[&str; 3]> = rows
        .iter()
        .map(|r| [r[7].as_str(), r[8].as_str(), r[9].as_str()])
        .collect();
    assert_eq!(
        tail,
        vec![
            ["iPhone 16", "winner", "expired"],
            ["iPhone 16", "winner", "notified"],
            ["Кружка", "winner", "notified"],
            ["iPhone 16", "reserve", "notified"],
            ["Кружка", "reserve", "reserve"],
        ]
    );
    assert_eq!(rows[3][10], "2031-07-01T12:00:00Z");
    assert_eq!(rows[4][10], "");
    for row in &rows {
        assert!(
            row[4].starts_with("'+7999111"),
            "full phones, guarded: {row:?}"
        );
        assert!(!row[2].starts_with('='), "{row:?}");
    }

    let (status, bytes) = download(
        &app,
        &manager,
        &format!("/api/raffles/{}/winners.xlsx", drawn.raffle_id),
    )
    .await;
    assert_eq!(status, 200);
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("xlsx");
    let sheet = workbook
        .worksheet_range(&format!("Raffle {}", drawn.raffle_id))
        .expect("sheet");
    let cells: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(cells.len(), 6, "a header and five picks");
    assert_eq!(cells[0][9], Data::String("claim_status".into()));
    assert_eq!(cells[4][7], Data::String("iPhone 16".into()));
    assert_eq!(cells[4][8], Data::String("reserve".into()));
    assert_eq!(cells[4][10], Data::String("2031-07-01T12:00:00Z".into()));
    let exports: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'winners.export' AND target = $1",
            &[&format!("campaign:{}", drawn.raffle_id)],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(exports, 2);
}

#[tokio::test]
async fn a_raffle_not_drawn_yet_has_no_winners_and_nothing_to_export() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let (_, created) = create(&app, &manager, request()).await;
    let id = created["raffle"]["id"].as_i64().expect("id");
    let (status, winners) = api(
        &app,
        &manager,
        Method::GET,
        &format!("/api/raffles/{id}/winners"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(winners["winners"], json!([]));
    for format in ["csv", "xlsx"] {
        let (status, _) = download(
            &app,
            &manager,
            &format!("/api/raffles/{id}/winners.{format}"),
        )
        .await;
        assert_eq!(status, 409, "{format}");
    }
    let exports: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'winners.export'",
            &[],
        )
        .await
        .expect("audit")
        .get(0);
    assert_eq!(exports, 0);
}

#[tokio::test]
async fn the_list_pages_newest_first_by_campaign_id() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, created) = create(&app, &manager, request()).await;
        ids.push(created["raffle"]["id"].as_i64().expect("id"));
    }
    let (status, first) = api(&app, &manager, Method::GET, "/api/raffles?limit=2", None).await;
    assert_eq!(status, 200);
    let page: Vec<i64> = first["raffles"]
        .as_array()
        .expect("raffles")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(page, vec![ids[2], ids[1]]);
    assert_eq!(first["next_before_id"], ids[1]);
    let (_, second) = api(
        &app,
        &manager,
        Method::GET,
        &format!("/api/raffles?limit=2&before_id={}", ids[1]),
        None,
    )
    .await;
    assert_eq!(second["raffles"][0]["id"], ids[0]);
    assert!(second["next_before_id"].is_null());
}

/// A JSON value of the kinds a form or a script might send in any field.
fn garbage() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..12).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,30}".prop_map(Value::from),
        Just(json!("\u{0}")),
        Just(json!("я".repeat(1_500))),
        Just(json!("upload:1")),
        Just(json!("9999-12-31T23:59")),
        Just(json!("0001-01-01")),
        Just(json!("+275760-09-13T00:00:00Z")),
        Just(json!("2031-02-29T10:00")),
        Just(json!("{name} {prize} {tickets} {unknown}")),
        Just(json!({"text": "{name}", "photo": "upload:0"})),
        Just(json!([{"name": "x", "quantity": 10000, "value_rub": 1}])),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::vec(
                (
                    prop::sample::select(&["name", "quantity", "value_rub", "photo", "text"][..]),
                    inner
                ),
                0..4
            )
            .prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_value_in_any_field_of_a_new_raffle_gets_a_5xx() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mona", "manager").await;
    let fields = [
        "/title",
        "/kind",
        "/window_from",
        "/window_to",
        "/prizes",
        "/prizes/0",
        "/prizes/0/name",
        "/prizes/0/quantity",
        "/prizes/1/value_rub",
        "/prizes/1/photo",
        "/multiple_wins",
        "/burn_tickets",
        "/reserves_per_prize",
        "/win_message",
        "/win_message/text",
        "/lose_message",
        "/notify_losers",
        "/scheduled_for",
    ];
    let runtime = tokio::runtime::Handle::current();
    let case = (
        prop::collection::vec((prop::sample::select(fields.to_vec()), garbage()), 1..3),
        prop::bool::weighted(0.5),
    );
    let created = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case, |(changes, from_valid)| {
        let mut body = if from_valid { request() } else { json!({}) };
        for (pointer, value) in &changes {
            // Through an existing parent only: `prizes/0/...` needs `prizes` to be a list.
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            match body.pointer_mut(parent) {
                Some(Value::Object(fields)) => {
                    fields.insert(key.to_owned(), value.clone());
                }
                Some(Value::Array(items)) => {
                    if let Some(item) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                        *item = value.clone();
                    }
                }
                _ => {}
            }
        }
        let (status, answer) =
            tokio::task::block_in_place(|| runtime.block_on(create(&app, &manager, body.clone())));
        prop_assert!(status < 500, "{body} → {status} {answer}");
        prop_assert!(
            status == 201 || answer["error"].is_string(),
            "{body} → {status} {answer}"
        );
        if status == 201 {
            created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Not vacuous: some changes leave a valid raffle.
    assert!(created.into_inner() > 0);
    // Whatever was created reads back.
    let (status, list) = api(&app, &manager, Method::GET, "/api/raffles?limit=100", None).await;
    assert_eq!(status, 200, "{list}");
    for raffle in list["raffles"].as_array().into_iter().flatten() {
        let (status, detail) = api(
            &app,
            &manager,
            Method::GET,
            &format!("/api/raffles/{}", raffle["id"]),
            None,
        )
        .await;
        assert_eq!(status, 200, "{detail}");
    }
}
