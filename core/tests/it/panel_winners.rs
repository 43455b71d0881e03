//! Raffle winners through HTTP: the raffles list, a raffle's winners with masked phones,
//! and the CSV and XLSX exports read back (full phones for a manager, masked for a viewer,
//! formulas defused, every export audited), for a raffle drawn before raffles had prizes.

use std::io::Cursor;
use std::time::Instant;

use calamine::{Data, Reader, Xlsx};
use promo_core::pii::Phone;
use promo_testkit::{spawn_app, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;

use crate::helpers::{api, operator, registered_shopper, Operator};

const DRAW: i64 = 700001;
/// The raffle's campaign: what the panel's routes are keyed by.
const RAFFLE: i64 = 900001;

/// A registered shopper with the phone +7999000<telegram id>; returns its id.
async fn shopper(app: &TestApp, telegram_id: i64, name: &str, username: Option<&str>) -> i64 {
    registered_shopper(
        app,
        telegram_id,
        name,
        username,
        &format!("+7999000{telegram_id:04}"),
    )
    .await
}

/// Draw `DRAW` of campaign 900001 for "iPhone 16", with `winners` in position order.
async fn draw(app: &TestApp, winners: &[i64]) {
    let bot = app.app.bot_id;
    let client = app.db().await.expect("db");
    client
        .batch_execute(&format!(
            "INSERT INTO campaigns (id, bot_id, kind, status) VALUES (900001, {bot}, 'raffle', 'completed');
             INSERT INTO raffle_draws (id, bot_id, campaign_id, prize, winner_count, seed, ticket_snapshot, algorithm)
             VALUES ({DRAW}, {bot}, 900001, 'iPhone 16', 3, '\\x00', '[]', 'test');"
        ))
        .await
        .expect("draw");
    for (position, user) in (1i32..).zip(winners) {
        client
            .execute(
                "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw, notified_at)
                 VALUES ($1, $2, $3, $4, $4 * 10, CASE WHEN $4 = 1 THEN now() END)",
                &[&DRAW, &bot, user, &position],
            )
            .await
            .expect("winner");
    }
}

/// Three winners: a plain one and two whose names a spreadsheet would run as formulas.
async fn seeded(app: &TestApp) -> [i64; 3] {
    let anna = shopper(app, 1, "Анна Смирнова", Some("anna")).await;
    let evil = shopper(app, 2, "=HYPERLINK(\"http://x\",\"win\")", Some("evil")).await;
    let minus = shopper(app, 3, "-2+3", None).await;
    draw(app, &[anna, evil, minus]).await;
    [anna, evil, minus]
}

struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    cache: String,
    bytes: Vec<u8>,
}

async fn download(app: &TestApp, who: &Operator, path: &str) -> Download {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .header(reqwest::header::COOKIE, &who.cookie)
        .send()
        .await
        .expect("request");
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    Download {
        status: response.status().as_u16(),
        content_type: header(reqwest::header::CONTENT_TYPE),
        disposition: header(reqwest::header::CONTENT_DISPOSITION),
        cache: header(reqwest::header::CACHE_CONTROL),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("xlsx");
    let range = workbook
        .worksheet_range(&format!("Raffle {RAFFLE}"))
        .expect("sheet");
    range.rows().map(<[Data]>::to_vec).collect()
}

/// `(action, actor, details)` of every export audit row, oldest first.
async fn exports(app: &TestApp) -> Vec<(String, String, serde_json::Value)> {
    app.db()
        .await
        .expect("db")
        .query(
            "SELECT target, actor, details FROM audit_log WHERE action = 'winners.export' ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

#[tokio::test]
async fn the_raffles_list_and_a_draws_winners_show_prize_counts_and_masked_phones() {
    let app = spawn_app().await.expect("app");
    let [anna, evil, minus] = seeded(&app).await;
    let viewer = operator(&app, "vic", "viewer").await;
    let (status, body) = api(&app, &viewer, Method::GET, "/api/raffles", None).await;
    assert_eq!(status, 200, "{body}");
    let raffle = &body["raffles"][0];
    assert_eq!(raffle["id"], RAFFLE);
    assert_eq!(raffle["draw_id"], DRAW);
    // Made before raffles had prizes: the draw's prize is the title, one prize.
    assert_eq!(raffle["title"], "iPhone 16");
    assert!(raffle["kind"].is_null());
    assert_eq!(raffle["status"], "completed");
    assert_eq!(
        (raffle["prizes"].clone(), raffle["picks"].clone()),
        (1.into(), 3.into())
    );
    assert!(raffle["drawn_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let path = format!("/api/raffles/{RAFFLE}/winners");
    let (status, body) = api(&app, &viewer, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let winners = body["winners"].as_array().expect("winners");
    let ids: Vec<i64> = winners
        .iter()
        .filter_map(|w| w["user_id"].as_i64())
        .collect();
    assert_eq!(ids, vec![anna, evil, minus]);
    assert_eq!(winners[0]["position"], 1);
    assert_eq!(winners[0]["name"], "Анна Смирнова");
    assert_eq!(winners[0]["username"], "anna");
    assert_eq!(winners[0]["tickets_at_draw"], 10);
    assert_eq!(winners[0]["prize"], "iPhone 16");
    assert_eq!(winners[0]["reserve"], false);
    assert_eq!(winners[0]["claim_status"], "notified");
    assert!(winners[0]["notified_at"].is_string());
    assert!(winners[1]["notified_at"].is_null());
    let masked = winners[0]["phone_masked"].as_str().unwrap_or_default();
    assert!(!masked.is_empty() && !masked.contains("99900"), "{masked}");
    // Reading the list shows no full number, so it leaves no trace.
    assert!(exports(&app).await.is_empty());

    let (status, body) = api(
        &app,
        &viewer,
        Method::GET,
        "/api/raffles/424242/winners",
        None,
    )
    .await;
    assert_eq!((status, body["error"].clone()), (404, "not_found".into()));
    let (status, body) = api(&app, &viewer, Method::GET, "/api/raffles?limit=0", None).await;
    assert_eq!((status, body["field"].clone()), (400, "limit".into()));
}

#[tokio::test]
async fn a_managers_csv_export_has_full_phones_defused_formulas_and_one_audit_row() {
    let app = spawn_app().await.expect("app");
    let [anna, ..] = seeded(&app).await;
    let manager = operator(&app, "mona", "manager").await;
    let file = download(
        &app,
        &manager,
        &format!("/api/raffles/{RAFFLE}/winners.csv"),
    )
    .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        file.disposition,
        format!("attachment; filename=\"winners-raffle-{RAFFLE}.csv\"")
    );
    assert_eq!(file.cache, "no-store");
    let rows = csv_rows(&file.bytes);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0][..4],
        ["1", &anna.to_string(), "Анна Смирнова", "anna"]
    );
    // The full number, guarded like every cell that starts with `+`.
    assert_eq!(rows[0][4], "'+79990000001");
    assert_eq!((rows[0][5].as_str(), rows[0][6].is_empty()), ("10", false));
    assert_eq!(rows[1][2], "'=HYPERLINK(\"http://x\",\"win\")");
    assert_eq!(rows[2][2], "'-2+3");
    assert_eq!(rows[2][3], "");
    assert_eq!(rows[0][7..], ["iPhone 16", "winner", "notified", ""]);

    let audited = exports(&app).await;
    assert_eq!(audited.len(), 1);
    let (target, actor, details) = &audited[0];
    assert_eq!(
        (target.as_str(), actor.as_str()),
        (format!("campaign:{RAFFLE}").as_str(), "panel:mona")
    );
    assert_eq!(details["campaign_id"], RAFFLE);
    assert_eq!(details["draw_id"], DRAW);
    assert_eq!(details["full_phones"], true);
    assert_eq!(details["format"], "csv");
    assert_eq!(details["rows"], 3);
}

#[tokio::test]
async fn a_viewers_xlsx_export_has_masked_phones_defused_formulas_and_says_so_in_the_audit() {
    let app = spawn_app().await.expect("app");
    let [anna, ..] = seeded(&app).await;
    let viewer = operator(&app, "vic", "viewer").await;
    let file = download(
        &app,
        &viewer,
        &format!("/api/raffles/{RAFFLE}/winners.xlsx"),
    )
    .await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        file.disposition,
        format!("attachment; filename=\"winners-raffle-{RAFFLE}.xlsx\"")
    );
    let rows = xlsx_rows(file.bytes);
    assert_eq!(rows.len(), 4, "a header and three winners");
    assert_eq!(rows[0][4], Data::String("phone".into()));
    assert_eq!(rows[0][8], Data::String("slot".into()));
    assert_eq!(rows[1][7], Data::String("iPhone 16".into()));
    assert_eq!(rows[1][8], Data::String("winner".into()));
    assert_eq!(rows[1][0], Data::Float(1.0));
    assert_eq!(rows[1][1], Data::Float(anna as f64));
    assert_eq!(rows[1][2], Data::String("Анна Смирнова".into()));
    let phone = rows[1][4].to_string();
    assert!(
        !phone.is_empty() && !phone.contains("99900"),
        "masked: {phone}"
    );
    assert_eq!(rows[1][5], Data::Float(10.0));
    assert_eq!(
        rows[2][2],
        Data::String("'=HYPERLINK(\"http://x\",\"win\")".into())
    );
    assert_eq!(rows[3][2], Data::String("'-2+3".into()));

    let audited = exports(&app).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].1, "panel:vic");
    assert_eq!(audited[0].2["full_phones"], false);
    assert_eq!(audited[0].2["format"], "xlsx");
}

#[tokio::test]
async fn exporting_needs_a_session_and_an_existing_draw_and_a_refusal_audits_nothing() {
    let app = spawn_app().await.expect("app");
    seeded(&app).await;
    let owner = operator(&app, "olga", "owner").await;
    let missing = download(&app, &owner, "/api/raffles/424242/winners.csv").await;
    assert_eq!(missing.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&missing.bytes).expect("json error");
    assert_eq!(body["error"], "not_found");
    let stranger = Operator {
        cookie: "__Host-promo_session=nope".into(),
        csrf: String::new(),
    };
    let refused = download(
        &app,
        &stranger,
        &format!("/api/raffles/{RAFFLE}/winners.xlsx"),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert!(exports(&app).await.is_empty());
    // An owner gets full phones like a manager.
    let file = download(&app, &owner, &format!("/api/raffles/{RAFFLE}/winners.csv")).await;
    assert_eq!(csv_rows(&file.bytes)[0][4], "'+79990000001");
}

#[tokio::test]
async fn a_phone_that_no_longer_decrypts_is_exported_masked_and_the_rest_in_full() {
    let app = spawn_app().await.expect("app");
    let [anna, evil, _] = seeded(&app).await;
    app.db()
        .await
        .expect("db")
        .execute(
            "UPDATE users SET phone_ciphertext = '\\x0102030405060708090a0b0c0d0e0f10' WHERE id = $1",
            &[&anna],
        )
        .await
        .expect("corrupt");
    let manager = operator(&app, "mona", "manager").await;
    let file = download(
        &app,
        &manager,
        &format!("/api/raffles/{RAFFLE}/winners.csv"),
    )
    .await;
    assert_eq!(file.status, 200);
    let rows = csv_rows(&file.bytes);
    assert_eq!(
        rows[0][4], "'+7 *** ***-00-01",
        "the masked number, guarded"
    );
    assert_eq!(
        (rows[1][1].clone(), rows[1][4].clone()),
        (evil.to_string(), "'+79990000002".to_owned())
    );
}

/// The budget: an export of 10,000 winners within 2 s through HTTP; it prints
/// the time (BENCHMARKS.md, "Admin API") and asserts only the rows. Run with
/// `cargo test -p promo-core --test it -- --ignored panel_winners::ten_thousand --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: seeds 10,000 winners"]
async fn ten_thousand_winners_export_within_two_seconds() {
    const WINNERS: i64 = 10_000;
    let app = spawn_app().await.expect("app");
    let bot = app.app.bot_id;
    let sealed = app
        .app
        .settings
        .phone_key
        .seal(&Phone::parse("+79990001234").expect("phone"));
    let client = app.db().await.expect("db");
    // One sealed number for everyone: the export still opens each one.
    client
        .execute(
            "INSERT INTO users (bot_id, telegram_id, first_name, full_name, username, status,
                                registered_at, phone_ciphertext, phone_hash, phone_masked)
             SELECT $1, 100000 + n, 'Shopper ' || n, 'Покупатель ' || n, 'user' || n, 'registered',
                    now(), $2, $3, $4
             FROM generate_series(1, $5::BIGINT) AS n",
            &[
                &bot,
                &sealed.ciphertext,
                &sealed.hash,
                &sealed.masked,
                &WINNERS,
            ],
        )
        .await
        .expect("users");
    draw(&app, &[]).await;
    client
        .execute(
            "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw)
             SELECT $1, $2, id, row_number() OVER (ORDER BY id), 5 FROM users WHERE bot_id = $2",
            &[&DRAW, &bot],
        )
        .await
        .expect("winners");
    let manager = operator(&app, "mona", "manager").await;
    for format in ["csv", "xlsx"] {
        let started = Instant::now();
        let file = download(
            &app,
            &manager,
            &format!("/api/raffles/{RAFFLE}/winners.{format}"),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(file.status, 200);
        println!(
            "winners export of {WINNERS} rows as {format}: {} ms, {} bytes",
            took.as_millis(),
            file.bytes.len()
        );
        if format == "csv" {
            assert_eq!(csv_rows(&file.bytes).len() as i64, WINNERS);
        } else {
            assert_eq!(xlsx_rows(file.bytes).len() as i64, WINNERS + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_path_segment_or_query_sent_to_the_winners_and_costs_routes_gets_a_5xx() {
    let app = spawn_app().await.expect("app");
    seeded(&app).await;
    let owner = operator(&app, "olga", "owner").await;
    let runtime = tokio::runtime::Handle::current();
    let segment = "[a-z0-9%.\\-]{0,24}";
    let query = "[a-z_=&%0-9.:/\\-]{0,40}";
    let paths = prop_oneof![
        query.prop_map(|q| format!("/api/raffles?{q}")),
        query.prop_map(|q| format!("/api/costs?{q}")),
        segment.prop_map(|id| format!("/api/raffles/{id}/winners")),
        segment.prop_map(|id| format!("/api/raffles/{id}/winners.csv")),
        segment.prop_map(|id| format!("/api/raffles/{id}/winners.xlsx")),
        Just(format!("/api/raffles/{}/winners.csv", i64::MAX)),
        Just(format!("/api/raffles/{RAFFLE}/winners.xlsx?x=1")),
        Just("/api/costs?days=2147483648&tz=UTC".to_owned()),
        Just("/api/costs?tz=%00".to_owned()),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&paths, |path| {
        let status = tokio::task::block_in_place(|| {
            runtime.block_on(async { download(&app, &owner, &path).await.status })
        });
        prop_assert!(status < 500, "GET {path} → {status}");
        Ok::<(), TestCaseError>(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
