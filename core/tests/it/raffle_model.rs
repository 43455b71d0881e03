//! Raffles with a model (issue 12) against real Postgres and the fake Bot API: the seed
//! committed at creation is the one the draw reveals, prizes and reserves fill their
//! slots, only eligible tickets count, intermediate draws burn what they used, and a
//! changed record is caught by verify-draw.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use promo_core::audit::Actor;
use promo_core::campaigns::draw::{commitment, Snapshot, ALGORITHM, ALGORITHM_TICKETS};
use promo_core::campaigns::raffle_spec::{
    self, CreatedRaffle, PrizeSpec, RaffleKind, RaffleMessage, RaffleSpec,
};
use promo_core::raffle::verify_draw;
use promo_testkit::{spawn_app, TestApp};

use crate::helpers::give_tickets;
use crate::raffle::{run_job, shopper};

fn prize(name: &str, quantity: i32, value_rub: i64) -> PrizeSpec {
    PrizeSpec {
        name: name.into(),
        quantity,
        value_rub,
        photo: None,
    }
}

fn spec(prizes: Vec<PrizeSpec>) -> RaffleSpec {
    RaffleSpec {
        title: "Финальный розыгрыш".into(),
        kind: RaffleKind::Final,
        window_from: None,
        window_to: None,
        time_zone: "Europe/Moscow".into(),
        prizes,
        multiple_wins: false,
        burn_tickets: false,
        reserves_per_prize: 1,
        win_message: RaffleMessage {
            text: "{name}, вы выиграли: {prize}! Билетов было: {tickets}".into(),
            photo: None,
        },
        lose_message: None,
        notify_losers: false,
        scheduled_for: None,
    }
}

async fn create(app: &TestApp, spec: &RaffleSpec) -> CreatedRaffle {
    spec.validate(Utc::now()).expect("a valid spec");
    let mut client = app.db().await.expect("db");
    let tx = client.transaction().await.expect("tx");
    let created = raffle_spec::create(
        &tx,
        app.app.bot_id,
        &Actor::System,
        spec,
        &app.app.settings.prize_key,
    )
    .await
    .expect("created");
    tx.commit().await.expect("commit");
    created
}

/// `(position, user_id, prize name, is_reserve, claim_status, has deadline)` by position.
async fn picks(app: &TestApp, campaign_id: i64) -> Vec<(i32, i64, String, bool, String, bool)> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT w.position, w.user_id, p.name, w.is_reserve, w.claim_status,
                    w.claim_deadline IS NOT NULL
             FROM raffle_winners w JOIN raffle_draws d ON d.id = w.draw_id
             JOIN raffle_prizes p ON p.id = w.prize_id
             WHERE d.campaign_id = $1 ORDER BY w.position",
            &[&campaign_id],
        )
        .await
        .expect("picks")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

async fn draw_of(app: &TestApp, campaign_id: i64) -> (i64, String, Vec<u8>) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT id, seed_commitment, snapshot FROM raffle_draws WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .expect("the draw");
    (row.get(0), row.get(1), row.get(2))
}

async fn draws_of(app: &TestApp, campaign_id: i64) -> i64 {
    app.db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM raffle_draws WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .expect("count")
        .get(0)
}

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .expect("a date")
}

/// A receipt of `user` bought at `bought` with `status`, and its ticket grant.
async fn receipt(
    app: &TestApp,
    user: i64,
    n: i64,
    bought: NaiveDateTime,
    status: &str,
    tickets: i32,
) {
    let client = app.db().await.expect("db");
    let id: i64 = client
        .query_one(
            "INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                                   fiscal_sign, operation_type, receipt_at, total_kopecks,
                                   raw_qr, tickets, status)
             VALUES ($1, $2, '9960440300000001', $3, 1, 1, $4, 10000, 'qr', $5, $6)
             RETURNING id",
            &[&app.app.bot_id, &user, &n, &bought, &tickets, &status],
        )
        .await
        .expect("receipt")
        .get(0);
    client
        .execute(
            "INSERT INTO tickets (bot_id, user_id, receipt_id, amount, source)
             VALUES ($1, $2, $3, $4, 'receipt')",
            &[&app.app.bot_id, &user, &id, &tickets],
        )
        .await
        .expect("tickets");
}

#[tokio::test]
async fn the_seed_committed_at_creation_is_the_one_the_draw_reveals_and_it_was_sealed_until_then() {
    let app = spawn_app().await.expect("app");
    for n in 0..8 {
        let id = shopper(&app, 7_000 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 3 + 1) as i32).await;
    }
    let created = create(&app, &spec(vec![prize("Кофемашина", 2, 30_000)])).await;
    assert_eq!(created.seed_commitment.len(), 64);
    let client = app.db().await.expect("db");
    let sealed: Vec<u8> = client
        .query_one(
            "SELECT seed_sealed FROM raffles WHERE campaign_id = $1",
            &[&created.campaign_id],
        )
        .await
        .expect("raffle")
        .get(0);
    assert_eq!(
        client
            .query_one("SELECT count(*) FROM raffle_draws", &[])
            .await
            .expect("count")
            .get::<_, i64>(0),
        0,
        "nothing is revealed before the draw"
    );

    run_job(&app, created.campaign_id).await.expect("job");
    let (draw_id, recorded, _) = draw_of(&app, created.campaign_id).await;
    assert_eq!(recorded, created.seed_commitment);
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(check.verified(), "{:?}", check.problems);
    assert_eq!(commitment(&check.seed), created.seed_commitment);
    assert_eq!(check.algorithm, ALGORITHM);
    // The revealed seed is nowhere in what was stored before the draw.
    assert!(!sealed.windows(32).any(|w| w == check.seed));

    // The published commitment changed after the fact: the check says so.
    client
        .execute(
            "UPDATE raffles SET seed_commitment = repeat('0', 64) WHERE campaign_id = $1",
            &[&created.campaign_id],
        )
        .await
        .expect("tamper");
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("published when the raffle was created")),
        "{:?}",
        check.problems
    );

    // The same entries written differently: they would hash differently for anyone
    // checking the published file, so the server's check refuses them too.
    client
        .execute(
            "UPDATE raffle_draws
             SET snapshot = convert_to(replace(convert_from(snapshot, 'UTF8'), E'\n', E'\r\n'), 'UTF8')
             WHERE id = $1",
            &[&draw_id],
        )
        .await
        .expect("rewrite");
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("the draw");
    assert!(
        check.problems.iter().any(|p| p.contains("canonical")),
        "{:?}",
        check.problems
    );
}

#[tokio::test]
async fn several_prizes_fill_their_quantities_then_their_reserves_and_only_winners_are_told_once() {
    let app = spawn_app().await.expect("app");
    for n in 0..12 {
        let id = shopper(&app, 7_100 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 4 + 1) as i32).await;
    }
    let created = create(
        &app,
        &spec(vec![prize("iPhone", 2, 90_000), prize("Кружка", 1, 500)]),
    )
    .await;
    run_job(&app, created.campaign_id).await.expect("job");
    // A re-run (a retried job, a restart) neither redraws nor tells anyone again.
    run_job(&app, created.campaign_id).await.expect("job again");

    let rows = picks(&app, created.campaign_id).await;
    let shape: Vec<(i32, &str, bool, &str, bool)> = rows
        .iter()
        .map(|r| (r.0, r.2.as_str(), r.3, r.4.as_str(), r.5))
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, "iPhone", false, "notified", true),
            (2, "iPhone", false, "notified", true),
            (3, "Кружка", false, "notified", true),
            (4, "iPhone", true, "reserve", false),
            (5, "Кружка", true, "reserve", false),
        ]
    );
    let users: HashSet<i64> = rows.iter().map(|r| r.1).collect();
    assert_eq!(
        users.len(),
        5,
        "without multiple wins nobody holds two picks"
    );

    let sent = app.telegram.sent_messages();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let chats: HashSet<i64> = sent.iter().map(|m| m.chat_id).collect();
    assert_eq!(chats.len(), 3);
    assert!(sent.iter().any(|m| m.text.contains("iPhone")));
    assert!(sent.iter().any(|m| m.text.contains("Кружка")));
    assert_eq!(
        app.db()
            .await
            .expect("db")
            .query_one("SELECT count(*) FROM raffle_draws", &[])
            .await
            .expect("count")
            .get::<_, i64>(0),
        1
    );
}

#[tokio::test]
async fn only_accepted_receipts_in_the_window_of_registered_real_shoppers_take_part() {
    let app = spawn_app().await.expect("app");
    let client = app.db().await.expect("db");
    let eligible = shopper(&app, 7_200, "ru", "registered").await;
    receipt(&app, eligible, 1, at(10, 12), "accepted", 3).await;
    receipt(&app, eligible, 2, at(25, 12), "accepted", 100).await; // after the window
    receipt(&app, eligible, 3, at(11, 9), "rejected", 50).await;
    receipt(&app, eligible, 4, at(12, 9), "pending", 60).await;
    let banned = shopper(&app, 7_201, "ru", "banned").await;
    receipt(&app, banned, 5, at(10, 12), "accepted", 40).await;
    let tester = shopper(&app, 7_202, "ru", "registered").await;
    client
        .execute("UPDATE users SET is_test = TRUE WHERE id = $1", &[&tester])
        .await
        .expect("test user");
    receipt(&app, tester, 6, at(10, 12), "accepted", 40).await;
    let early = shopper(&app, 7_203, "ru", "registered").await;
    receipt(&app, early, 7, at(1, 0), "accepted", 30).await; // before the window
    let other = shopper(&app, 7_204, "ru", "registered").await;
    receipt(&app, other, 8, at(19, 23), "accepted", 2).await; // the window's last hour

    let mut week = spec(vec![prize("Сертификат", 3, 1_000)]);
    week.kind = RaffleKind::Intermediate;
    week.window_from = Some(at(8, 0));
    week.window_to = Some(at(20, 0));
    let created = create(&app, &week).await;
    run_job(&app, created.campaign_id).await.expect("job");
    let (_, _, snapshot) = draw_of(&app, created.campaign_id).await;
    assert_eq!(
        String::from_utf8(snapshot).expect("text"),
        format!("{eligible}:3\n{other}:2\n")
    );
    let winners: HashSet<i64> = picks(&app, created.campaign_id)
        .await
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(winners, HashSet::from([eligible, other]));
}

#[tokio::test]
async fn an_intermediate_draw_that_burns_tickets_leaves_them_out_of_the_final() {
    let app = spawn_app().await.expect("app");
    let first = shopper(&app, 7_300, "ru", "registered").await;
    receipt(&app, first, 1, at(3, 12), "accepted", 5).await;
    let second = shopper(&app, 7_301, "ru", "registered").await;
    receipt(&app, second, 2, at(4, 12), "accepted", 4).await;

    let mut weekly = spec(vec![prize("Кружка", 1, 500)]);
    weekly.kind = RaffleKind::Intermediate;
    weekly.burn_tickets = true;
    weekly.reserves_per_prize = 0;
    let intermediate = create(&app, &weekly).await;
    run_job(&app, intermediate.campaign_id).await.expect("job");
    let (draw_id, _, used) = draw_of(&app, intermediate.campaign_id).await;
    assert_eq!(
        String::from_utf8(used).expect("text"),
        format!("{first}:5\n{second}:4\n")
    );
    let burned: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM tickets WHERE burned_by_draw = $1",
            &[&draw_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(burned, 2);

    // Bought after the intermediate draw: only these count in the final.
    receipt(&app, second, 3, at(9, 12), "accepted", 7).await;
    let last = create(&app, &spec(vec![prize("Телевизор", 1, 60_000)])).await;
    run_job(&app, last.campaign_id).await.expect("job");
    let (final_id, _, snapshot) = draw_of(&app, last.campaign_id).await;
    assert_eq!(
        String::from_utf8(snapshot).expect("text"),
        format!("{second}:7\n")
    );
    let check = verify_draw(&app.app.pool, app.app.bot_id, final_id)
        .await
        .expect("verify")
        .expect("draw");
    assert!(check.verified(), "{:?}", check.problems);
}

#[tokio::test]
async fn with_multiple_wins_one_big_holder_may_take_several_prizes_and_the_draw_verifies() {
    let app = spawn_app().await.expect("app");
    let big = shopper(&app, 7_400, "ru", "registered").await;
    give_tickets(&app, big, 5_000).await;
    for n in 1..=2 {
        let id = shopper(&app, 7_400 + n, "ru", "registered").await;
        give_tickets(&app, id, 1).await;
    }
    let mut many = spec(vec![prize("Шоколадка", 3, 100)]);
    many.multiple_wins = true;
    many.reserves_per_prize = 0;
    let created = create(&app, &many).await;
    run_job(&app, created.campaign_id).await.expect("job");
    let rows = picks(&app, created.campaign_id).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().filter(|r| r.1 == big).count() >= 2, "{rows:?}");
    let (draw_id, _, snapshot) = draw_of(&app, created.campaign_id).await;
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("draw");
    assert_eq!(check.algorithm, ALGORITHM_TICKETS);
    assert!(check.verified(), "{:?}", check.problems);
    assert_eq!(
        Snapshot::parse(&snapshot).expect("snapshot").tickets(),
        5_002
    );
}

#[tokio::test]
async fn a_seed_that_does_not_open_fails_the_job_and_draws_nothing_until_the_key_is_right() {
    let app = spawn_app().await.expect("app");
    let id = shopper(&app, 7_500, "ru", "registered").await;
    give_tickets(&app, id, 3).await;
    let created = create(&app, &spec(vec![prize("Приз", 1, 100)])).await;
    let client = app.db().await.expect("db");
    // Another raffle's sealed seed moved onto this one: bound to its row, it won't open.
    let other = create(&app, &spec(vec![prize("Другой", 1, 100)])).await;
    let own: Vec<u8> = client
        .query_one(
            "SELECT seed_sealed FROM raffles WHERE campaign_id = $1",
            &[&created.campaign_id],
        )
        .await
        .expect("sealed")
        .get(0);
    client
        .execute(
            "UPDATE raffles SET seed_sealed = (SELECT seed_sealed FROM raffles WHERE campaign_id = $2)
             WHERE campaign_id = $1",
            &[&created.campaign_id, &other.campaign_id],
        )
        .await
        .expect("swap");
    assert!(
        run_job(&app, created.campaign_id).await.is_err(),
        "retried, not given up"
    );
    assert_eq!(draws_of(&app, created.campaign_id).await, 0);
    assert!(app.telegram.sent_messages().is_empty());
    let status: String = client
        .query_one(
            "SELECT status FROM campaigns WHERE id = $1",
            &[&created.campaign_id],
        )
        .await
        .expect("campaign")
        .get(0);
    assert_eq!(status, "scheduled");

    // Its own sealed seed back (the runner got the right key): the retry draws it.
    client
        .execute(
            "UPDATE raffles SET seed_sealed = $2 WHERE campaign_id = $1",
            &[&created.campaign_id, &own],
        )
        .await
        .expect("restore");
    run_job(&app, created.campaign_id).await.expect("retry");
    assert_eq!(draws_of(&app, created.campaign_id).await, 1);
    let (draw_id, recorded, _) = draw_of(&app, created.campaign_id).await;
    assert_eq!(recorded, created.seed_commitment);
    let check = verify_draw(&app.app.pool, app.app.bot_id, draw_id)
        .await
        .expect("verify")
        .expect("draw");
    assert!(check.verified(), "{:?}", check.problems);
}

#[tokio::test]
async fn everyone_who_won_nothing_is_told_once_by_name_and_the_winners_are_not() {
    let app = spawn_app().await.expect("app");
    let mut chats = Vec::new();
    for n in 0..6 {
        let id = shopper(&app, 7_600 + n, "ru", "registered").await;
        give_tickets(&app, id, (n + 1) as i32).await;
        chats.push(7_600 + n);
    }
    let mut told = spec(vec![prize("Велосипед", 1, 20_000)]);
    told.reserves_per_prize = 1;
    told.notify_losers = true;
    told.lose_message = Some(RaffleMessage {
        text: "{name}, в этот раз не повезло. У вас {tickets|билет|билета|билетов} — ждём вас в финале «{prize}»!".into(),
        photo: None,
    });
    let created = create(&app, &told).await;
    run_job(&app, created.campaign_id).await.expect("draw");
    let losers: i64 = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT losers_campaign_id FROM raffle_draws WHERE campaign_id = $1",
            &[&created.campaign_id],
        )
        .await
        .expect("draw")
        .get(0);
    // The losers' broadcast is a campaign like any other; a second run sends nothing more.
    run_job(&app, losers).await.expect("losers");
    run_job(&app, losers).await.expect("losers again");
    let winner: i64 = picks(&app, created.campaign_id).await[0].1;
    let winner_chat: i64 = app
        .db()
        .await
        .expect("db")
        .query_one("SELECT telegram_id FROM users WHERE id = $1", &[&winner])
        .await
        .expect("winner")
        .get(0);

    let sent = app.telegram.sent_messages();
    let consolation: Vec<_> = sent
        .iter()
        .filter(|m| m.text.contains("не повезло"))
        .collect();
    assert_eq!(consolation.len(), 5, "{sent:?}");
    let told_chats: HashSet<i64> = consolation.iter().map(|m| m.chat_id).collect();
    assert_eq!(told_chats.len(), 5);
    assert!(!told_chats.contains(&winner_chat));
    // Иван holds n + 1 tickets: the count and its noun agree.
    let third = consolation
        .iter()
        .find(|m| m.chat_id == 7_602)
        .map(|m| m.text.clone())
        .unwrap_or_default();
    if winner_chat != 7_602 {
        assert_eq!(
            third,
            "Иван, в этот раз не повезло. У вас 3 билета — ждём вас в финале «Финальный розыгрыш»!"
        );
    }
    assert_eq!(
        sent.iter().filter(|m| m.chat_id == winner_chat).count(),
        1,
        "the winner gets the win message only"
    );
}

#[tokio::test]
async fn many_readers_of_a_public_record_at_once_all_get_the_same_verified_record() {
    let app = spawn_app().await.expect("app");
    for n in 0..20 {
        let id = shopper(&app, 7_950 + n, "ru", "registered").await;
        give_tickets(&app, id, (n % 5 + 1) as i32).await;
    }
    let created = create(&app, &spec(vec![prize("Самокат", 2, 15_000)])).await;
    run_job(&app, created.campaign_id).await.expect("draw");
    let (draw_id, _, _) = draw_of(&app, created.campaign_id).await;
    let url = app.url(&format!("/api/public/draws/{draw_id}"));
    let readers = (0..20).map(|_| {
        let url = url.clone();
        async move {
            let response = reqwest::get(url).await.expect("answer");
            (
                response.status().as_u16(),
                response.text().await.expect("body"),
            )
        }
    });
    let answers = futures::future::join_all(readers).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert!(answers.iter().all(|(_, body)| *body == answers[0].1));
    let record: serde_json::Value = serde_json::from_str(&answers[0].1).expect("json");
    assert_eq!(record["verified"], true, "{record}");
    assert_eq!(record["seed_commitment"], created.seed_commitment.as_str());
}
