//! `GET /api/dashboard` through HTTP: figures with their growth, the daily series in the
//! promotion's time zone, recent campaigns, and clear errors for bad parameters.

use promo_testkit::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{api, operator, Operator};

/// Two old shoppers and one from today; receipts in each status; tickets; a campaign.
async fn seed(app: &TestApp) {
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    client
        .batch_execute(&format!(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, created_at) VALUES
                 ({bot}, 1, 'Old', 'registered', now() - interval '10 days', now() - interval '10 days'),
                 ({bot}, 2, 'Week', 'registered', now() - interval '3 days', now() - interval '3 days'),
                 ({bot}, 3, 'Today', 'new', NULL, now() - interval '1 hour');
             INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                     fiscal_sign, operation_type, receipt_at, total_kopecks, raw_qr, tickets, status, created_at)
             SELECT {bot}, u.id, '9999078900001234', n, n, 1, now(), 10000, 'qr', 2, s, c
             FROM (VALUES (1, 'accepted', now() - interval '10 days'),
                          (2, 'accepted', now() - interval '2 hours'),
                          (3, 'pending', now() - interval '2 days'),
                          (4, 'rejected', now() - interval '1 hour')) AS v(n, s, c),
                  users u WHERE u.bot_id = {bot} AND u.telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 5, 'manual', now() - interval '10 days' FROM users WHERE bot_id = {bot} AND telegram_id = 1;
             INSERT INTO tickets (bot_id, user_id, amount, source, created_at)
             SELECT {bot}, id, 3, 'manual', now() - interval '30 minutes' FROM users WHERE bot_id = {bot} AND telegram_id = 2;
             INSERT INTO campaigns (bot_id, kind, status, total, sent, unknown)
             VALUES ({bot}, 'broadcast', 'completed', 3, 2, 1);"
        ))
        .await
        .expect("seed");
}

#[tokio::test]
async fn the_dashboard_shows_each_figure_with_its_growth_a_daily_series_and_recent_campaigns() {
    let app = spawn_app().await.expect("app");
    seed(&app).await;
    let who = operator(&app, "viewer", "viewer").await;
    let (status, body) = api(&app, &who, Method::GET, "/api/dashboard?days=14", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["users"],
        json!({"total": 3, "last_24h": 1, "last_7d": 2})
    );
    assert_eq!(
        body["registered"],
        json!({"total": 2, "last_24h": 0, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_accepted"],
        json!({"total": 2, "last_24h": 1, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_pending"],
        json!({"total": 1, "last_24h": 0, "last_7d": 1})
    );
    assert_eq!(
        body["receipts_rejected"],
        json!({"total": 1, "last_24h": 1, "last_7d": 1})
    );
    assert_eq!(
        body["tickets"],
        json!({"total": 8, "last_24h": 3, "last_7d": 3})
    );
    assert_eq!(body["participants"], 2);
    assert_eq!(body["campaigns"]["total"], 1);
    let daily = body["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 14);
    let sum = |field: &str| daily.iter().filter_map(|d| d[field].as_i64()).sum::<i64>();
    // The 10-day-old rows are inside a 14-day window.
    assert_eq!((sum("users"), sum("receipts"), sum("tickets")), (3, 2, 8));
    assert!(daily
        .windows(2)
        .all(|w| w[0]["day"].as_str() < w[1]["day"].as_str()));
    let campaign = &body["recent_campaigns"][0];
    assert_eq!(
        (campaign["sent"].clone(), campaign["unknown"].clone()),
        (json!(2), json!(1))
    );

    let (_, short) = api(
        &app,
        &who,
        Method::GET,
        "/api/dashboard?days=7&tz=UTC",
        None,
    )
    .await;
    let daily = short["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 7);
    assert_eq!(
        daily
            .iter()
            .filter_map(|d| d["users"].as_i64())
            .sum::<i64>(),
        2
    );
}

#[tokio::test]
async fn bad_dashboard_parameters_name_the_field_and_no_session_is_refused() {
    let app = spawn_app().await.expect("app");
    let who = operator(&app, "viewer", "viewer").await;
    for (query, field) in [
        ("days=0", "days"),
        ("days=100000", "days"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
    ] {
        let (status, body) = api(
            &app,
            &who,
            Method::GET,
            &format!("/api/dashboard?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!(field)),
            "{query}: {body}"
        );
    }
    let (status, _) = api(&app, &who, Method::GET, "/api/dashboard?days=abc", None).await;
    assert_eq!(status, 400);
    let nobody = Operator {
        cookie: String::new(),
        csrf: String::new(),
    };
    let (status, body) = api(&app, &nobody, Method::GET, "/api/dashboard", None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("unauthorized"))
    );
}

// ---------------------------------------------------------------- the rollup stays exact

/// The dashboard's figures counted straight from the tables, as the dashboard did before
/// its rollup (migration 0010), test shoppers left out: what the rollup must equal.
const PLAIN_FIGURES: &str = "
WITH u AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE created_at > now() - interval '1 day') AS day,
           count(*) FILTER (WHERE created_at > now() - interval '7 days') AS week,
           count(*) FILTER (WHERE status = 'registered') AS reg_total,
           count(*) FILTER (WHERE status = 'registered' AND registered_at > now() - interval '1 day') AS reg_day,
           count(*) FILTER (WHERE status = 'registered' AND registered_at > now() - interval '7 days') AS reg_week
    FROM users WHERE bot_id = $1 AND NOT is_test
), s AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE s.created_at > now() - interval '1 day') AS day,
           count(*) FILTER (WHERE s.created_at > now() - interval '7 days') AS week
    FROM receipt_submissions s JOIN users u ON u.id = s.user_id WHERE s.bot_id = $1 AND NOT u.is_test
), r AS (
    SELECT count(*) FILTER (WHERE r.status = 'accepted') AS acc,
           count(*) FILTER (WHERE r.status = 'accepted' AND r.created_at > now() - interval '1 day') AS acc_day,
           count(*) FILTER (WHERE r.status = 'accepted' AND r.created_at > now() - interval '7 days') AS acc_week,
           count(*) FILTER (WHERE r.status = 'pending') AS pen,
           count(*) FILTER (WHERE r.status = 'pending' AND r.created_at > now() - interval '1 day') AS pen_day,
           count(*) FILTER (WHERE r.status = 'pending' AND r.created_at > now() - interval '7 days') AS pen_week,
           count(*) FILTER (WHERE r.status = 'rejected') AS rej,
           count(*) FILTER (WHERE r.status = 'rejected' AND r.created_at > now() - interval '1 day') AS rej_day,
           count(*) FILTER (WHERE r.status = 'rejected' AND r.created_at > now() - interval '7 days') AS rej_week
    FROM receipts r JOIN users u ON u.id = r.user_id WHERE r.bot_id = $1 AND NOT u.is_test
), t AS (
    SELECT COALESCE(sum(amount), 0)::BIGINT AS total,
           COALESCE(sum(amount) FILTER (WHERE t.created_at > now() - interval '1 day'), 0)::BIGINT AS day,
           COALESCE(sum(amount) FILTER (WHERE t.created_at > now() - interval '7 days'), 0)::BIGINT AS week
    FROM tickets t JOIN users u ON u.id = t.user_id WHERE t.bot_id = $1 AND NOT u.is_test
), p AS (
    SELECT count(*) AS total FROM (
        SELECT t.user_id FROM tickets t JOIN users u ON u.id = t.user_id
        WHERE t.bot_id = $1 AND NOT u.is_test GROUP BY t.user_id HAVING sum(t.amount) > 0
    ) holders
)
SELECT json_build_object(
    'users', json_build_object('total', u.total, 'last_24h', u.day, 'last_7d', u.week),
    'registered', json_build_object('total', u.reg_total, 'last_24h', u.reg_day, 'last_7d', u.reg_week),
    'uploads', json_build_object('total', s.total, 'last_24h', s.day, 'last_7d', s.week),
    'receipts_accepted', json_build_object('total', r.acc, 'last_24h', r.acc_day, 'last_7d', r.acc_week),
    'receipts_pending', json_build_object('total', r.pen, 'last_24h', r.pen_day, 'last_7d', r.pen_week),
    'receipts_rejected', json_build_object('total', r.rej, 'last_24h', r.rej_day, 'last_7d', r.rej_week),
    'tickets', json_build_object('total', t.total, 'last_24h', t.day, 'last_7d', t.week),
    'participants', p.total)
FROM u, s, r, t, p";

/// The daily series counted from the tables: `[day, users, accepted receipts, tickets]`.
const PLAIN_DAILY: &str = "
WITH bounds AS (
    SELECT ((now() AT TIME ZONE $2)::date - ($3::INT - 1)) AS first_day
), days AS (
    SELECT (first_day + n) AS day FROM bounds, generate_series(0, $3::INT - 1) AS n
), since AS (
    SELECT (first_day::TIMESTAMP AT TIME ZONE $2) AS at FROM bounds
), u AS (
    SELECT (created_at AT TIME ZONE $2)::date AS day, count(*) AS n
    FROM users WHERE bot_id = $1 AND NOT is_test AND created_at >= (SELECT at FROM since) GROUP BY 1
), r AS (
    SELECT (r.created_at AT TIME ZONE $2)::date AS day, count(*) AS n
    FROM receipts r JOIN users x ON x.id = r.user_id
    WHERE r.bot_id = $1 AND NOT x.is_test AND r.status = 'accepted'
      AND r.created_at >= (SELECT at FROM since) GROUP BY 1
), t AS (
    SELECT (t.created_at AT TIME ZONE $2)::date AS day, sum(amount)::BIGINT AS n
    FROM tickets t JOIN users x ON x.id = t.user_id
    WHERE t.bot_id = $1 AND NOT x.is_test AND t.created_at >= (SELECT at FROM since) GROUP BY 1
)
SELECT json_agg(json_build_array(to_char(days.day, 'YYYY-MM-DD'), COALESCE(u.n, 0),
                                 COALESCE(r.n, 0), COALESCE(t.n, 0)) ORDER BY days.day)
FROM days
LEFT JOIN u ON u.day = days.day
LEFT JOIN r ON r.day = days.day
LEFT JOIN t ON t.day = days.day";

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len() as u64) as usize]
    }

    /// Seconds before now: often inside the 15-minute bucket at the 24 h or 7 d edge,
    /// where a rollup by bucket would first go wrong, else anywhere in 40 days. Never
    /// within a minute of an edge: the test takes seconds, and a row crossing the edge
    /// between the dashboard's answer and the plain count would fail it for nothing.
    fn age(&mut self) -> u64 {
        let near = |dice: &mut Self, edge: u64| {
            let off = 60 + dice.below(840);
            if dice.below(2) == 0 {
                edge - off
            } else {
                edge + off
            }
        };
        match self.below(4) {
            0 => near(self, 86_400),
            1 => near(self, 7 * 86_400),
            2 => self.below(3_600),
            _ => loop {
                let age = self.below(40 * 86_400);
                if age.abs_diff(86_400) > 60 && age.abs_diff(7 * 86_400) > 60 {
                    break age;
                }
            },
        }
    }
}

async fn assert_dashboard_equals_the_tables(app: &TestApp, who: &Operator, round: usize) {
    let client = app.db().await.expect("db");
    for (days, tz) in [
        (45, "Europe/Moscow"),
        (10, "Asia/Kathmandu"),
        (3, "America/St_Johns"),
    ] {
        let path = format!("/api/dashboard?days={days}&tz={tz}");
        let (status, body) = api(app, who, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let plain: serde_json::Value = client
            .query_one(PLAIN_FIGURES, &[&app.app.bot_id])
            .await
            .expect("plain figures")
            .get(0);
        for (field, expected) in plain.as_object().expect("figures") {
            assert_eq!(&body[field], expected, "{field} after round {round}");
        }
        let daily: serde_json::Value = client
            .query_one(PLAIN_DAILY, &[&app.app.bot_id, &tz, &days])
            .await
            .expect("plain daily")
            .get(0);
        let ours: Vec<serde_json::Value> = body["daily"]
            .as_array()
            .expect("daily")
            .iter()
            .map(|d| json!([d["day"], d["users"], d["receipts"], d["tickets"]]))
            .collect();
        assert_eq!(json!(ours), daily, "daily in {tz} after round {round}");
    }
}

#[tokio::test]
async fn after_a_random_mix_of_writes_and_moderation_the_dashboard_equals_the_plain_aggregates() {
    let app = spawn_app().await.expect("app");
    let bot = app.app.bot_id;
    let manager = operator(&app, "manager", "manager").await;
    let mut dice = Dice(0x5eed_0010_da5b_0a2d);
    let client = app.db().await.expect("db");
    let mut users: Vec<i64> = Vec::new();
    let mut document = 0i64;
    for round in 0..6 {
        for _ in 0..25 {
            let age = dice.age() as f64;
            let status = dice.pick(&["new", "registering", "registered", "registered", "banned"]);
            let registered = (status == "registered").then(|| dice.age() as f64);
            let is_test = dice.below(8) == 0;
            let id: i64 = client
                .query_one(
                    "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at,
                                        created_at, is_test)
                     VALUES ($1, $2, 'Покупатель', $3, now() - make_interval(secs => $4),
                             now() - make_interval(secs => $5), $6) RETURNING id",
                    &[
                        &bot,
                        &(users.len() as i64 + 1_000),
                        &status,
                        &registered,
                        &age,
                        &is_test,
                    ],
                )
                .await
                .expect("user")
                .get(0);
            users.push(id);
        }
        for _ in 0..60 {
            let user = users[dice.below(users.len() as u64) as usize];
            let age = dice.age() as f64;
            document += 1;
            let status = dice.pick(&["accepted", "accepted", "pending", "rejected"]);
            let submission: i64 = client
                .query_one(
                    "INSERT INTO receipt_submissions (bot_id, user_id, source, status, created_at)
                     VALUES ($1, $2, 'qr_text', 'accepted', now() - make_interval(secs => $3))
                     RETURNING id",
                    &[&bot, &user, &age],
                )
                .await
                .expect("submission")
                .get(0);
            if dice.below(3) == 0 {
                continue; // an upload that never became a receipt
            }
            let receipt: i64 = client
                .query_one(
                    "INSERT INTO receipts (bot_id, user_id, submission_id, fiscal_drive_number,
                         fiscal_document_number, fiscal_sign, operation_type, receipt_at,
                         total_kopecks, raw_qr, tickets, status, created_at)
                     VALUES ($1, $2, $3, '9999078900001234', $4, 1, 1, now(), 10000, 'qr', 2, $5,
                             now() - make_interval(secs => $6))
                     RETURNING id",
                    &[&bot, &user, &submission, &document, &status, &age],
                )
                .await
                .expect("receipt")
                .get(0);
            if status == "accepted" {
                client
                    .execute(
                        "INSERT INTO tickets (bot_id, user_id, receipt_id, amount, source, created_at)
                         VALUES ($1, $2, $3, 2, 'receipt', now() - make_interval(secs => $4))",
                        &[&bot, &user, &receipt, &age],
                    )
                    .await
                    .expect("grant");
            }
        }
        // Manual grants and takebacks, some taking a balance to zero or below.
        for _ in 0..15 {
            let user = users[dice.below(users.len() as u64) as usize];
            let amount = [-3, -2, -1, 1, 2, 5][dice.below(6) as usize];
            client
                .execute(
                    "INSERT INTO tickets (bot_id, user_id, amount, source, reason, created_at)
                     VALUES ($1, $2, $3, 'manual', 'mix', now() - make_interval(secs => $4))",
                    &[&bot, &user, &amount, &(dice.age() as f64)],
                )
                .await
                .expect("manual grant");
        }
        // Moderation through the API: half the receipts waiting for review are decided.
        let pending: Vec<i64> = client
            .query(
                "SELECT id FROM receipts WHERE bot_id = $1 AND status = 'pending' ORDER BY id",
                &[&bot],
            )
            .await
            .expect("pending")
            .iter()
            .map(|row| row.get(0))
            .collect();
        for id in pending.iter().step_by(2) {
            let verb = dice.pick(&["approve", "reject"]);
            let path = format!("/api/receipts/{id}/{verb}");
            let decision = json!({"reason": "проверка чека"});
            let (status, body) = api(&app, &manager, Method::POST, &path, Some(decision)).await;
            assert_eq!(status, 200, "{verb} {id}: {body}");
        }
        // Shoppers change: registration, bans, resets, becoming or leaving the test flag.
        for _ in 0..10 {
            let user = users[dice.below(users.len() as u64) as usize];
            let sql = match dice.below(4) {
                0 => "UPDATE users SET status = 'registered', registered_at = COALESCE(registered_at, now()) WHERE id = $1",
                1 => "UPDATE users SET status = 'banned' WHERE id = $1",
                2 => "UPDATE users SET status = 'new', registered_at = NULL WHERE id = $1",
                _ => "UPDATE users SET is_test = NOT is_test WHERE id = $1",
            };
            client.execute(sql, &[&user]).await.expect("user change");
        }
        // Receipts moved between statuses by hand (a fraud review outside the panel).
        client
            .execute(
                "UPDATE receipts SET status = 'rejected'
                 WHERE id IN (SELECT id FROM receipts WHERE bot_id = $1 AND status = 'accepted'
                              ORDER BY id DESC LIMIT 2)",
                &[&bot],
            )
            .await
            .expect("status change");
        assert_dashboard_equals_the_tables(&app, &manager, round).await;
    }
    // A deleted shopper takes everything it counted with it.
    let gone = users[3];
    client
        .execute("DELETE FROM users WHERE id = $1", &[&gone])
        .await
        .expect("delete");
    assert_dashboard_equals_the_tables(&app, &manager, 99).await;
    // And rebuilding from the tables finds nothing to correct, bucket by bucket.
    let buckets = "SELECT json_agg(b ORDER BY b.bucket) FROM (
                       SELECT bucket, sum(users) AS u, sum(registered) AS g, sum(uploads) AS s,
                              sum(accepted) AS a, sum(pending) AS p, sum(rejected) AS r,
                              sum(tickets) AS t, sum(participants) AS h
                       FROM dashboard_counts WHERE bot_id = $1 GROUP BY bucket
                       HAVING sum(users) <> 0 OR sum(registered) <> 0 OR sum(uploads) <> 0
                           OR sum(accepted) <> 0 OR sum(pending) <> 0 OR sum(rejected) <> 0
                           OR sum(tickets) <> 0 OR sum(participants) <> 0) b";
    let before: serde_json::Value = client
        .query_one(buckets, &[&bot])
        .await
        .expect("rollup")
        .get(0);
    client
        .execute("SELECT dashboard_rebuild($1)", &[&bot])
        .await
        .expect("rebuild");
    let after: serde_json::Value = client
        .query_one(buckets, &[&bot])
        .await
        .expect("rollup")
        .get(0);
    assert_eq!(before, after);
}
