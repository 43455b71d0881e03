//! Raffle draws against real Postgres and Redis and the fake Bot API (invariant 4): drawn
//! once, reproducible from the recorded seed and snapshot, winners notified once.

use std::collections::HashSet;
use std::time::Duration;

use promo_core::campaigns::draw::{commitment, draw, Snapshot, ALGORITHM};
use promo_core::jobs::CampaignJob;
use promo_core::queue::{JobError, JobMessage, QueueName};
use promo_core::raffle::{run_raffle, verify_draw};
use promo_testkit::telegram::{Failure, Updates};
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};

use crate::helpers::{give_tickets, ADMIN};

/// A registered shopper; returns `users.id`.
pub(crate) async fn shopper(app: &TestApp, telegram_id: i64, language: &str, status: &str) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, language, status,
                                registered_at)
             VALUES ($1, $2, 'Иван', 'Иван Петров', $3, $4, now()) RETURNING id",
            &[&app.app.bot_id, &telegram_id, &language, &status],
        )
        .await
        .expect("shopper")
        .get(0)
}

async fn raffle(app: &TestApp, prize: &str, winner_count: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, created_via)
             VALUES ($1, 'raffle', 'scheduled', $2, 'bot') RETURNING id",
            &[
                &app.app.bot_id,
                &json!({ "prize": prize, "winner_count": winner_count }),
            ],
        )
        .await
        .expect("raffle")
        .get(0)
}

/// Runs the campaign job the way the campaigns queue does.
pub(crate) async fn run_job(app: &TestApp, campaign_id: i64) -> Result<(), JobError> {
    let body = serde_json::to_string(&CampaignJob::Run { campaign_id }).expect("json");
    let message = JobMessage {
        message_id: "m1".into(),
        body,
        receive_count: 1,
    };
    promo_core::worker::handle_campaign_job(&app.app, message).await
}

/// `(user_id, position, tickets_at_draw, notified)` in position order.
async fn winners(app: &TestApp, campaign_id: i64) -> Vec<(i64, i32, i32, bool)> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT w.user_id, w.position, w.tickets_at_draw, w.notified_at IS NOT NULL
             FROM raffle_winners w JOIN raffle_draws d ON d.id = w.draw_id
             WHERE d.campaign_id = $1 ORDER BY w.position",
            &[&campaign_id],
        )
        .await
        .expect("winners")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

/// `(status, total, sent, blocked, error)` of the campaign.
async fn campaign(app: &TestApp, id: i64) -> (String, i32, i32, i32, Option<String>) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT status, total, sent, blocked, error FROM campaigns WHERE id = $1",
            &[&id],
        )
        .await
        .expect("campaign");
    (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
}

async fn draw_count(app: &TestApp) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one("SELECT count(*) FROM raffle_draws", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn the_draw_is_reproducible_from_the_recorded_seed_and_snapshot() {
    let app = spawn_app().await.expect("app");
    let mut users = Vec::new();
    for n in 0..12 {
        let id = shopper(&app, 5_000 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 5 + 1) as i32).await;
        users.push(id);
    }
    let id = raffle(&app, "iPhone", 4).await;
    run_job(&app, id).await.expect("job");

    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT seed, snapshot, algorithm, winner_count, prize
             FROM raffle_draws WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .expect("draw");
    let seed: Vec<u8> = row.get(0);
    let snapshot = Snapshot::parse(&row.get::<_, Vec<u8>>(1)).expect("canonical snapshot");
    assert_eq!(row.get::<_, String>(2), ALGORITHM);
    assert_eq!(row.get::<_, i32>(3), 4);
    assert_eq!(row.get::<_, String>(4), "iPhone");
    assert_eq!(snapshot.participants(), 12);
    let seed: [u8; 32] = seed.try_into().expect("32-byte seed");

    let again: Vec<(i64, i32)> = draw(&snapshot, &seed, 4)
        .into_iter()
        .map(|(user, tickets)| (user, tickets as i32))
        .collect();
    let stored: Vec<(i64, i32)> = winners(&app, id)
        .await
        .into_iter()
        .map(|(user, _, tickets, _)| (user, tickets))
        .collect();
    assert_eq!(stored, again);
    assert_eq!(stored.len(), 4);
    let distinct: HashSet<i64> = stored.iter().map(|(user, _)| *user).collect();
    assert_eq!(distinct.len(), 4, "a user wins at most once");
}

#[tokio::test]
async fn a_recorded_draw_verifies_and_any_tampering_with_it_is_detected() {
    let app = spawn_app().await.expect("app");
    for n in 0..30 {
        let id = shopper(&app, 5_100 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 7 + 1) as i32).await;
    }
    let id = raffle(&app, "Велосипед", 3).await;
    run_job(&app, id).await.expect("job");
    let client = app.db().await.expect("db");
    let (draw_id, recorded_commitment, hash): (i64, String, String) = client
        .query_one(
            "SELECT id, seed_commitment, snapshot_hash FROM raffle_draws WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .expect("draw");
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(check.verified(), "{:?}", check.problems);
    assert_eq!(recorded_commitment, commitment(&check.seed));
    assert_eq!(
        check.recomputed_snapshot_hash.as_deref(),
        Some(hash.as_str())
    );
    assert_eq!(check.participants(), 30);
    assert_eq!(check.recorded.len(), 3);

    // One participant's tickets edited after the draw: the hash no longer matches.
    client
        .execute(
            "UPDATE raffle_draws
             SET snapshot = overlay(snapshot PLACING convert_to(':999', 'UTF8')
                                    FROM position(':'::bytea IN snapshot) FOR 2)
             WHERE id = $1",
            &[&draw_id],
        )
        .await
        .expect("tamper");
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(!check.verified());
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("does not match its recorded hash")),
        "{:?}",
        check.problems
    );

    // A winner swapped for someone else.
    let other = client
        .query_one(
            "SELECT id FROM users WHERE bot_id = $1 AND id NOT IN
                 (SELECT user_id FROM raffle_winners WHERE draw_id = $2) LIMIT 1",
            &[&app.app.bot_id, &draw_id],
        )
        .await
        .expect("a non-winner")
        .get::<_, i64>(0);
    client
        .execute(
            "UPDATE raffle_winners SET user_id = $2 WHERE draw_id = $1 AND position = 1",
            &[&draw_id, &other],
        )
        .await
        .expect("swap");
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(check
        .problems
        .iter()
        .any(|p| p.contains("recorded winners")));
    // Another bot's draw id is not this bot's to verify.
    assert!(verify_draw(&app.app.pool, app.app.bot_id + 1_000, draw_id)
        .await
        .expect("verify")
        .is_none());
}

#[tokio::test]
async fn the_snapshot_holds_only_registered_users_with_a_positive_balance() {
    let app = spawn_app().await.expect("app");
    let holder = shopper(&app, 5_100, "ru", "registered").await;
    give_tickets(&app, holder, 2).await;
    let spent = shopper(&app, 5_101, "ru", "registered").await;
    give_tickets(&app, spent, 2).await;
    give_tickets(&app, spent, -2).await;
    let banned = shopper(&app, 5_102, "ru", "banned").await;
    give_tickets(&app, banned, 50).await;
    let id = raffle(&app, "Кофемашина", 3).await;
    run_job(&app, id).await.expect("job");

    let snapshot: Vec<u8> = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT snapshot FROM raffle_draws WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .expect("draw")
        .get(0);
    assert_eq!(snapshot, format!("{holder}:2\n").into_bytes());
    assert_eq!(winners(&app, id).await, vec![(holder, 1, 2, true)]);
}

#[tokio::test]
async fn winners_are_notified_with_the_prize_in_their_language() {
    let app = spawn_app().await.expect("app");
    let ru = shopper(&app, 5_200, "ru", "registered").await;
    let en = shopper(&app, 5_201, "en", "registered").await;
    give_tickets(&app, ru, 1).await;
    give_tickets(&app, en, 1).await;
    let id = raffle(&app, "iPhone 16 Pro", 5).await;
    run_job(&app, id).await.expect("job");

    let sent = app.telegram.sent_messages();
    assert_eq!(sent.len(), 2);
    let text_to = |chat: i64| {
        sent.iter()
            .find(|m| m.chat_id == chat)
            .map(|m| m.text.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        text_to(5_200),
        "🎉 Поздравляем! Вы выиграли в розыгрыше: iPhone 16 Pro. Мы свяжемся с вами, чтобы вручить приз."
    );
    assert_eq!(
        text_to(5_201),
        "🎉 Congratulations! You won the raffle: iPhone 16 Pro. We will contact you to hand over the prize."
    );
    assert!(winners(&app, id).await.iter().all(|w| w.3));
    assert_eq!(
        campaign(&app, id).await,
        ("completed".into(), 2, 2, 0, None)
    );
}

#[tokio::test]
async fn running_the_job_twice_never_redraws_and_never_notifies_twice() {
    let app = spawn_app().await.expect("app");
    for n in 0..6 {
        let user = shopper(&app, 5_300 + n, "ru", "registered").await;
        give_tickets(&app, user, 3).await;
    }
    let id = raffle(&app, "Сертификат", 2).await;
    run_job(&app, id).await.expect("first run");
    let first = winners(&app, id).await;
    assert_eq!(first.len(), 2);
    assert_eq!(app.telegram.sent_messages().len(), 2);

    // A redelivered job, and one that finds the campaign put back to 'scheduled'.
    run_job(&app, id).await.expect("second run");
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE campaigns SET status = 'scheduled' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("reschedule");
    run_job(&app, id).await.expect("third run");
    let concurrent = tokio::join!(run_job(&app, id), run_job(&app, id));
    concurrent.0.expect("concurrent run");
    concurrent.1.expect("concurrent run");

    assert_eq!(draw_count(&app).await, 1);
    assert_eq!(winners(&app, id).await, first);
    assert_eq!(app.telegram.sent_messages().len(), 2);
}

#[tokio::test]
async fn concurrent_first_runs_draw_once_and_notify_once() {
    let app = spawn_app().await.expect("app");
    for n in 0..5 {
        let user = shopper(&app, 5_350 + n, "ru", "registered").await;
        give_tickets(&app, user, 1).await;
    }
    let id = raffle(&app, "Велосипед", 3).await;
    let (a, b) = tokio::join!(run_job(&app, id), run_job(&app, id));
    a.expect("run a");
    b.expect("run b");
    assert_eq!(draw_count(&app).await, 1);
    assert_eq!(winners(&app, id).await.len(), 3);
    let chats: Vec<i64> = app
        .telegram
        .sent_messages()
        .iter()
        .map(|m| m.chat_id)
        .collect();
    let distinct: HashSet<i64> = chats.iter().copied().collect();
    assert_eq!((chats.len(), distinct.len()), (3, 3));
}

#[tokio::test]
async fn a_winner_who_blocked_the_bot_is_marked_unreachable_and_not_retried() {
    let app = spawn_app().await.expect("app");
    let blocked = shopper(&app, 5_400, "ru", "registered").await;
    give_tickets(&app, blocked, 1).await;
    app.telegram.block_chat(5_400);
    let id = raffle(&app, "iPhone", 1).await;
    run_job(&app, id).await.expect("job");

    assert_eq!(winners(&app, id).await, vec![(blocked, 1, 1, false)]);
    let reachable: bool = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT reachable FROM users WHERE id = $1", &[&blocked])
        .await
        .expect("user")
        .get(0);
    assert!(!reachable);
    assert_eq!(
        campaign(&app, id).await,
        ("completed".into(), 1, 0, 1, None)
    );
    let attempts = app.telegram.calls_to("sendMessage").len();
    assert_eq!(attempts, 1);

    run_job(&app, id).await.expect("second run");
    assert_eq!(app.telegram.calls_to("sendMessage").len(), attempts);
}

#[tokio::test]
async fn a_raffle_nobody_holds_tickets_for_completes_with_no_winners_and_a_note() {
    let app = spawn_app().await.expect("app");
    shopper(&app, 5_500, "ru", "registered").await;
    let id = raffle(&app, "iPhone", 3).await;
    let outcome = run_raffle(&app.app.campaigns.raffles, id)
        .await
        .expect("raffle")
        .expect("drawn");
    assert_eq!(outcome.winners, 0);

    let (status, total, sent, _, error) = campaign(&app, id).await;
    assert_eq!((status.as_str(), total, sent), ("completed", 0, 0));
    assert!(error.is_some_and(|e| e.contains("no participants")));
    assert!(winners(&app, id).await.is_empty());
    assert_eq!(draw_count(&app).await, 1, "the empty draw is recorded too");
    assert!(app.telegram.sent_messages().is_empty());
}

#[tokio::test]
async fn a_raffle_that_is_not_due_or_not_a_raffle_is_left_alone() {
    let app = spawn_app().await.expect("app");
    let user = shopper(&app, 5_600, "ru", "registered").await;
    give_tickets(&app, user, 1).await;
    let later = raffle(&app, "iPhone", 1).await;
    let db = app.db().await.expect("db");
    db.execute(
        "UPDATE campaigns SET scheduled_for = now() + interval '1 hour' WHERE id = $1",
        &[&later],
    )
    .await
    .expect("later");
    let cancelled = raffle(&app, "iPhone", 1).await;
    db.execute(
        "UPDATE campaigns SET status = 'cancelled' WHERE id = $1",
        &[&cancelled],
    )
    .await
    .expect("cancel");
    for id in [later, cancelled, i64::MAX] {
        assert_eq!(
            run_raffle(&app.app.campaigns.raffles, id)
                .await
                .expect("raffle"),
            None
        );
    }
    assert_eq!(draw_count(&app).await, 0);
}

#[tokio::test]
async fn invalid_raffle_content_fails_the_campaign_with_the_reason() {
    let app = spawn_app().await.expect("app");
    let id = raffle(&app, "  ", 1).await;
    run_job(&app, id).await.expect("job");
    let (status, _, _, _, error) = campaign(&app, id).await;
    assert_eq!(status, "failed");
    assert_eq!(error.as_deref(), Some("a raffle needs a prize"));
    assert_eq!(draw_count(&app).await, 0);
}

#[tokio::test]
async fn an_admin_confirmed_raffle_is_drawn_from_the_campaigns_queue_and_winners_are_told() {
    let app = spawn_app_with(TestConfig::default().with("ADMIN_IDS", &ADMIN.to_string()))
        .await
        .expect("app");
    let ivan = shopper(&app, 5_700, "ru", "registered").await;
    give_tickets(&app, ivan, 3).await;
    let anna = shopper(&app, 5_701, "en", "registered").await;
    give_tickets(&app, anna, 1).await;

    for text in ["🎁 Розыгрыш", "iPhone 16 Pro", "2"] {
        let reply = app
            .send_update(&Updates::text(ADMIN, text))
            .await
            .expect("update");
        assert_eq!(reply.status, 200);
    }
    let confirm = app
        .telegram
        .sent_messages()
        .into_iter()
        .rev()
        .find(|m| m.chat_id == ADMIN)
        .expect("confirmation");
    let reply = app
        .send_update(&Updates::callback(ADMIN, "adm:rf:go", confirm.message_id))
        .await
        .expect("callback");
    assert_eq!(reply.status, 200);
    let id: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT id FROM campaigns WHERE kind = 'raffle' AND status = 'scheduled'",
            &[],
        )
        .await
        .expect("the admin's raffle")
        .get(0);

    // The bridge would relay the row; the test enqueues the job itself.
    let body = serde_json::to_string(&CampaignJob::Run { campaign_id: id }).expect("json");
    app.app
        .queue
        .send(QueueName::Campaigns, body, Duration::ZERO)
        .await
        .expect("enqueue");
    let handler = |message: JobMessage| {
        let app = app.app.clone();
        async move { promo_core::worker::handle_campaign_job(&app, message).await }
    };
    let handled = promo_core::queue::consume_once(
        app.app.queue.as_ref(),
        QueueName::Campaigns,
        10,
        Duration::from_millis(100),
        &handler,
    )
    .await
    .expect("consume");
    assert_eq!(handled, 1);

    let mut won: Vec<i64> = winners(&app, id).await.iter().map(|w| w.0).collect();
    won.sort_unstable();
    assert_eq!(won, vec![ivan, anna]);
    assert!(winners(&app, id).await.iter().all(|w| w.3));
    assert_eq!(campaign(&app, id).await.0, "completed");
    for chat in [5_700, 5_701] {
        let told = app
            .telegram
            .sent_messages()
            .into_iter()
            .filter(|m| m.chat_id == chat)
            .count();
        assert_eq!(told, 1, "chat {chat} told once");
        assert!(app
            .telegram
            .sent_messages()
            .iter()
            .any(|m| m.chat_id == chat && m.text.contains("iPhone 16 Pro")));
    }
}

#[tokio::test]
async fn a_transient_send_failure_fails_the_job_and_its_retry_notifies_once() {
    let app = spawn_app().await.expect("app");
    let user = shopper(&app, 5_800, "ru", "registered").await;
    give_tickets(&app, user, 1).await;
    let id = raffle(&app, "iPhone", 1).await;
    app.telegram
        .fail_next("sendMessage", 3, Failure::ServerError);
    assert!(run_job(&app, id).await.is_err(), "the queue must retry");
    assert_eq!(winners(&app, id).await, vec![(user, 1, 1, false)]);
    assert!(app.telegram.sent_messages().is_empty());

    run_job(&app, id).await.expect("retry");
    run_job(&app, id).await.expect("redelivery");
    assert_eq!(winners(&app, id).await, vec![(user, 1, 1, true)]);
    assert_eq!(app.telegram.sent_messages().len(), 1);
    assert_eq!(draw_count(&app).await, 1);
}

#[tokio::test]
async fn the_winners_messages_are_written_to_the_outbox_in_the_draws_own_transaction() {
    let app = spawn_app().await.expect("app");
    for n in 0..4 {
        let user = shopper(&app, 5_400 + n, "ru", "registered").await;
        give_tickets(&app, user, 2).await;
    }
    let id = raffle(&app, "Самокат", 2).await;
    run_job(&app, id).await.expect("run");
    // now() is the transaction's start: equal timestamps mean one transaction.
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE o.created_at = d.drawn_at)
             FROM outbox o JOIN raffle_draws d ON d.campaign_id = $1
             WHERE o.purpose = 'winner'",
            &[&id],
        )
        .await
        .expect("outbox rows");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2, 2));
}

#[tokio::test]
async fn anyone_can_redo_a_draw_from_its_public_record_with_the_python_reference() {
    let app = spawn_app().await.expect("app");
    for n in 0..25 {
        let id = shopper(&app, 5_200 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 6 + 1) as i32).await;
    }
    let id = raffle(&app, "Самокат", 4).await;
    run_job(&app, id).await.expect("job");
    let draw_id: i64 = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT id FROM raffle_draws WHERE campaign_id = $1", &[&id])
        .await
        .expect("draw")
        .get(0);
    // No session: the record is public.
    let record: Value = reqwest::get(app.url(&format!("/api/public/draws/{draw_id}")))
        .await
        .expect("record")
        .json()
        .await
        .expect("json");
    assert_eq!(record["verified"], true, "{record}");
    assert_eq!(record["participants"], 25);
    assert_eq!(record["picks"], 4);
    let winners = record["winners"].as_array().expect("winners");
    assert_eq!(winners.len(), 4);
    assert!(winners
        .iter()
        .all(|w| w["name"].as_str().is_some_and(|n| !n.contains("+7"))));
    let snapshot = reqwest::get(app.url(&format!("/api/public/draws/{draw_id}/snapshot.txt")))
        .await
        .expect("snapshot")
        .text()
        .await
        .expect("text");
    assert_eq!(snapshot.lines().count(), 25);

    let listed: String = winners
        .iter()
        .map(|w| format!("{}:{}\n", w["user_id"], w["tickets"]))
        .collect();
    let file = std::env::temp_dir().join(format!(
        "promo-public-draw-{draw_id}-{}.txt",
        std::process::id()
    ));
    std::fs::write(&file, listed).expect("winners file");
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let (code, out) = crate::draw_reference::verify(
        &[
            "--seed".to_owned(),
            str_of(&record["seed"]),
            "--picks".to_owned(),
            record["picks"].to_string(),
            "--commitment".to_owned(),
            str_of(&record["seed_commitment"]),
            "--snapshot-hash".to_owned(),
            str_of(&record["snapshot_hash"]),
            "--winners".to_owned(),
            file.display().to_string(),
        ],
        &snapshot,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("winners: match"), "{out}");
    let _ = std::fs::remove_file(&file);
    // The panel's list of draws shows the same commitment and where to check it.
    let viewer = crate::helpers::operator(&app, "vic", "viewer").await;
    let (status, list) =
        crate::helpers::api(&app, &viewer, reqwest::Method::GET, "/api/raffles", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["raffles"][0]["seed_commitment"],
        record["seed_commitment"]
    );
    assert_eq!(list["raffles"][0]["participants"], 25);
    assert_eq!(
        list["raffles"][0]["public_url"],
        format!("/api/public/draws/{draw_id}")
    );
    let missing = reqwest::get(app.url("/api/public/draws/987654"))
        .await
        .expect("missing");
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn a_winner_whose_message_is_refused_for_good_stays_reachable_for_everything_else() {
    let app = spawn_app().await.expect("app");
    let refused = shopper(&app, 5_300, "ru", "registered").await;
    let fine = shopper(&app, 5_301, "ru", "registered").await;
    give_tickets(&app, refused, 1).await;
    give_tickets(&app, fine, 1).await;
    // A permanent 400 for one chat, not a block.
    app.telegram.chat_not_found(5_300);
    let id = raffle(&app, "Чайник", 2).await;
    let _ = run_job(&app, id).await;

    let sent = app.telegram.sent_messages();
    assert!(
        sent.iter().any(|m| m.chat_id == 5_301),
        "the other winner is told"
    );
    assert!(!sent.iter().any(|m| m.chat_id == 5_300));
    let client = app.db().await.expect("db");
    let reachable: bool = client
        .query_one("SELECT reachable FROM users WHERE id = $1", &[&refused])
        .await
        .expect("user")
        .get(0);
    assert!(reachable, "only a 403 makes a shopper unreachable");
    let status: String = client
        .query_one(
            "SELECT status FROM outbox WHERE user_id = $1 AND purpose = 'winner'",
            &[&refused],
        )
        .await
        .expect("outbox row")
        .get(0);
    assert_eq!(
        status, "failed",
        "refused for good, with its reason, for an operator"
    );
    let notified: Vec<bool> = winners(&app, id).await.iter().map(|w| w.3).collect();
    assert_eq!(notified.iter().filter(|n| **n).count(), 1);
}
