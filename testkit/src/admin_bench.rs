//! The admin API at scale (issue 11, BENCHMARKS.md "Admin API"): seeds a database with
//! shoppers, uploads, receipts, the ticket ledger and a drawn raffle by binary `COPY`,
//! serves the real admin router (what `promo serve` and the `admin-api` function mount)
//! on 127.0.0.1, signs in as the panel does and times each endpoint through HTTP.
//! `admin-bench` (testkit/src/bin/admin-bench.rs) runs it at full size; the smoke test
//! (`core/tests/it/admin_bench.rs`) runs it tiny so it cannot rot.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use futures::pin_mut;
use promo_core::config::AdminApiSettings;
use promo_core::pii::{Phone, PhoneKey};
use promo_core::server::{admin_router, HttpServer};
use serde_json::{json, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

/// The phone key of the bench's data: the same one the served API opens phones with.
const PHONE_KEY: [u8; 32] = [42; 32];
const BOT_SLUG: &str = "bench";
const LOGIN: &str = "bench-manager";
const PASSWORD: &str = "a long enough bench password";
/// The promotion's length: uploads spread over it, the newest at the bench's start.
const DAYS: i64 = 60;
const WINNERS: i64 = 10_000;
/// The seed's layout version: a change to what is seeded reseeds instead of reusing.
const SEED_VERSION: i32 = 1;

#[derive(Debug, Clone)]
pub struct AdminBench {
    pub users: i64,
    pub receipts: i64,
    /// Timed requests per case (after a warm-up of a tenth of them, at least one).
    pub requests: usize,
    /// Timed requests per export case: each is a 10,000-row file.
    pub export_requests: usize,
    /// The database's name on the test server; reused when seeded at the same size.
    pub database: String,
    /// Seed again even if the database holds a seed of this size.
    pub reseed: bool,
}

impl AdminBench {
    /// The full-size bench of the issue.
    pub fn full() -> Self {
        Self {
            users: 1_000_000,
            receipts: 5_000_000,
            requests: 200,
            export_requests: 20,
            database: "promo_bench_admin".into(),
            reseed: false,
        }
    }

    /// A seconds-long run for tests, in a fresh database of its own.
    pub fn smoke() -> Self {
        Self {
            users: 2_000,
            receipts: 10_000,
            requests: 5,
            export_requests: 2,
            database: format!(
                "{}admin_bench_{}",
                crate::db::TEST_DB_PREFIX,
                uuid::Uuid::new_v4().simple()
            ),
            reseed: true,
        }
    }
}

/// One endpoint's timings.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub target: Duration,
    /// Which percentile the target is for (95, or 100 for "every request").
    pub target_percentile: u8,
    pub samples: Vec<Duration>,
    /// Rows in all timed answers (for the record: a search that finds nothing proves
    /// little); the report shows the mean per request.
    pub rows: usize,
}

impl Case {
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn passed(&self) -> bool {
        self.percentile(f64::from(self.target_percentile)) <= self.target
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub users: i64,
    pub receipts: i64,
    pub submissions: i64,
    pub tickets: i64,
    pub winners: i64,
    /// None when an earlier seed of this size was reused.
    pub seed_time: Option<Duration>,
    pub load_before: String,
    pub load_after: String,
    pub cases: Vec<Case>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "data: {} users, {} receipts, {} uploads, {} ticket rows, a raffle of {} winners\n",
            self.users, self.receipts, self.submissions, self.tickets, self.winners
        ));
        out.push_str(&match self.seed_time {
            Some(t) => format!("seed: {:.1} s\n", t.as_secs_f64()),
            None => "seed: reused (same size)\n".into(),
        });
        out.push_str(&format!("load before: {}\n", self.load_before));
        out.push_str(&format!(
            "{:<34} {:>5} {:>9} {:>9} {:>9} {:>12} {:>8}  result\n",
            "case", "n", "p50", "p95", "p99", "target", "rows/req"
        ));
        for case in &self.cases {
            let target = if case.target_percentile == 100 {
                format!("max≤{}ms", case.target.as_millis())
            } else {
                format!("p95≤{}ms", case.target.as_millis())
            };
            out.push_str(&format!(
                "{:<34} {:>5} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>12} {:>8.1}  {}\n",
                case.name,
                case.samples.len(),
                ms(case.percentile(50.0)),
                ms(case.percentile(95.0)),
                ms(case.percentile(99.0)),
                target,
                case.rows as f64 / case.samples.len().max(1) as f64,
                if case.passed() { "PASS" } else { "FAIL" }
            ));
        }
        out.push_str(&format!("load after: {}\n", self.load_after));
        out
    }

    pub fn all_passed(&self) -> bool {
        self.cases.iter().all(Case::passed)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The machine's load (`uptime`'s three figures), read from /proc where there is one.
pub fn machine_load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| {
            let parts: Vec<&str> = s.split_whitespace().take(3).collect();
            format!("load average {} (1, 5, 15 min)", parts.join(", "))
        })
        .unwrap_or_else(|_| "unknown".into())
}

pub async fn run(bench: &AdminBench) -> anyhow::Result<Report> {
    let server = crate::db::server_url();
    let url = format!("{server}/{}", bench.database);
    let seed_time = prepare_database(&server, &url, bench).await?;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);
    let counts = client
        .query_one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM receipts),
                    (SELECT count(*) FROM receipt_submissions), (SELECT count(*) FROM tickets),
                    (SELECT count(*) FROM raffle_winners)",
            &[],
        )
        .await?;

    let pool = promo_core::db::connect(&url, 4)?;
    let bot_id = promo_core::db::ensure_bot(&pool, BOT_SLUG, "Admin bench").await?;
    promo_core::admin::create_admin_user(&pool, bot_id, LOGIN, PASSWORD, "manager", None, true)
        .await?;
    drop(pool);

    let env: HashMap<&str, String> = HashMap::from([
        ("BOT_SLUG", BOT_SLUG.to_owned()),
        ("DATABASE_URL", url.clone()),
        ("REDIS_URL", crate::app::redis_url()),
        (
            "ADMIN_SECRET_KEY",
            "admin-bench-secret-key-0123456789abcdef".to_owned(),
        ),
        (
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode(PHONE_KEY),
        ),
        (
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([11u8; 32]),
        ),
        ("PROMO_NAME", "Хрустящее лето".to_owned()),
    ]);
    let settings = AdminApiSettings::from_lookup(|name| env.get(name).cloned())?;
    let api = promo_core::app::connect_admin_api(settings).await?;
    let server = HttpServer::bind("127.0.0.1:0".parse()?, admin_router(api)).await?;
    let address = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let session = sign_in(&http, &base).await?;

    let load_before = machine_load();
    let plan = plan_cases(&client, bot_id, bench).await?;
    let mut cases = Vec::new();
    for planned in plan {
        cases.push(measure(&http, &base, &session, planned, bench).await?);
    }
    let load_after = machine_load();
    let _ = stop.send(());
    let _ = serving.await;
    Ok(Report {
        users: counts.get(0),
        receipts: counts.get(1),
        submissions: counts.get(2),
        tickets: counts.get(3),
        winners: counts.get(4),
        seed_time,
        load_before,
        load_after,
        cases,
    })
}

// ---------------------------------------------------------------- the database

/// Creates, migrates and seeds the database unless it holds a seed of this size already.
/// Returns how long seeding took, or None when it was reused.
async fn prepare_database(
    server: &str,
    url: &str,
    bench: &AdminBench,
) -> anyhow::Result<Option<Duration>> {
    let (admin, connection) = tokio_postgres::connect(&format!("{server}/postgres"), NoTls)
        .await
        .context("connecting to Postgres: is it running?")?;
    let driver = tokio::spawn(connection);
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&bench.database],
        )
        .await?
        .is_some();
    if exists && !bench.reseed && seeded_at_size(url, bench).await.unwrap_or(false) {
        drop(admin);
        let _ = driver.await;
        // New migrations still apply, so a rerun measures the current schema.
        let pool = promo_core::db::connect(url, 2)?;
        promo_core::db::migrate(&pool).await?;
        return Ok(None);
    }
    let name = bench.database.replace('"', "");
    // Two statements: a multi-statement query is one transaction, which DROP DATABASE refuses.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .context("dropping the old bench database")?;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .context("creating the bench database")?;
    drop(admin);
    let _ = driver.await;

    let pool = promo_core::db::connect(url, 2)?;
    promo_core::db::migrate(&pool).await?;
    let bot_id = promo_core::db::ensure_bot(&pool, BOT_SLUG, "Admin bench").await?;
    drop(pool);
    let started = Instant::now();
    seed(url, bot_id, bench).await?;
    let took = started.elapsed();
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO bench_seed (version, users, receipts, seconds) VALUES ($1, $2, $3, $4)",
            &[
                &SEED_VERSION,
                &bench.users,
                &bench.receipts,
                &took.as_secs_f64(),
            ],
        )
        .await?;
    Ok(Some(took))
}

async fn seeded_at_size(url: &str, bench: &AdminBench) -> anyhow::Result<bool> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let row = client
        .query_opt(
            "SELECT 1 FROM bench_seed WHERE version = $1 AND users = $2 AND receipts = $3",
            &[&SEED_VERSION, &bench.users, &bench.receipts],
        )
        .await?;
    Ok(row.is_some())
}

/// splitmix64: the same row from the same index on every run, without a generator's state.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn draw(index: i64, salt: u64, below: u64) -> u64 {
    mix((index as u64) ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d)) % below
}

const FIRST_NAMES: &[&str] = &[
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Артём",
    "Илья",
    "Кирилл",
    "Михаил",
    "Никита",
    "Матвей",
    "Роман",
    "Егор",
    "Иван",
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Екатерина",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Юлия",
    "Анастасия",
    "Дарья",
    "Полина",
    "Виктория",
    "Ксения",
];
const LAST_NAMES: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
];
const LATIN: &[&str] = &[
    "alex", "dima", "max", "serg", "andrey", "lesha", "artem", "ilya", "kirill", "misha", "nik",
    "anna", "masha", "lena", "olga", "natasha", "katya", "tanya", "ira", "sveta",
];
const PRODUCTS: &[(&str, bool)] = &[
    ("Чипсы Хрустящие 150г", true),
    ("Чипсы Хрустящие паприка 90г", true),
    ("Сухарики Хрустящие 60г", true),
    ("Молоко 3,2% 1л", false),
    ("Хлеб Бородинский", false),
    ("Вода питьевая 1,5л", false),
    ("Пакет-майка", false),
];
const SELLERS: i64 = 3_000;

fn seller_inn(seller: i64) -> String {
    format!("77{:08}", 10_000_000 + seller)
}

/// The newest upload's time: the bench's start, so the 24 h and 7 d windows hold rows.
fn time_of(
    index: i64,
    count: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let span = DAYS * 86_400_000_000;
    // Evenly over the promotion, newest last, so ids follow time as they do live.
    let offset = span - (span as i128 * (index as i128 + 1) / count.max(1) as i128) as i64;
    now - chrono::Duration::microseconds(offset)
}

async fn connect_for_seeding(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    // Triggers (the dashboard's rollup, the foreign keys) stay off for the bulk load:
    // the rollup is rebuilt from the tables afterwards, and the rows are consistent by
    // construction.
    client
        .batch_execute("SET session_replication_role = replica; SET synchronous_commit = off")
        .await?;
    Ok(client)
}

/// The secondary indexes of the seeded tables, dropped for the load and built after it
/// (one sort each instead of five million inserts into each).
async fn drop_indexes(client: &Client) -> anyhow::Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             WHERE i.indrelid IN ('users'::regclass, 'receipts'::regclass,
                                  'receipt_submissions'::regclass, 'tickets'::regclass)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            &[],
        )
        .await?;
    let mut definitions = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        client.batch_execute(&format!("DROP INDEX {name}")).await?;
        definitions.push(row.get(1));
    }
    Ok(definitions)
}

async fn seed(url: &str, bot_id: i64, bench: &AdminBench) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let main = connect_for_seeding(url).await?;
    main.batch_execute("CREATE TABLE IF NOT EXISTS bench_seed (version INT, users BIGINT, receipts BIGINT, seconds FLOAT8, seeded_at TIMESTAMPTZ DEFAULT now())")
        .await?;
    let indexes = drop_indexes(&main).await?;
    let users = bench.users.max(1);
    let receipts = bench.receipts;
    let key = PhoneKey::new(PHONE_KEY);
    // The users first, then the three big tables side by side on their own connections.
    seed_users(&main, bot_id, users, now, &key).await?;
    let (a, b, c) = (
        connect_for_seeding(url).await?,
        connect_for_seeding(url).await?,
        connect_for_seeding(url).await?,
    );
    let (r, s, t) = tokio::join!(
        seed_receipts(&a, bot_id, users, receipts, now),
        seed_submissions(&b, bot_id, users, receipts, now),
        seed_tickets(&c, bot_id, users, receipts, now),
    );
    r?;
    s?;
    t?;
    // Indexes two at a time: the machine has two cores.
    let (first, second): (Vec<String>, Vec<String>) = {
        let (a, b): (Vec<_>, Vec<_>) = indexes
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        (
            a.into_iter().map(|(_, s)| s).collect(),
            b.into_iter().map(|(_, s)| s).collect(),
        )
    };
    let (x, y) = tokio::join!(build_indexes(&a, first), build_indexes(&b, second));
    x?;
    y?;
    seed_raffle_and_campaigns(&main, bot_id, users, now).await?;
    main.batch_execute(&format!(
        "SELECT setval('users_id_seq', {users});
         SELECT setval('receipts_id_seq', GREATEST({receipts}, 1));
         SELECT setval('receipt_submissions_id_seq', (SELECT COALESCE(max(id), 1) FROM receipt_submissions));
         SELECT setval('tickets_id_seq', (SELECT COALESCE(max(id), 1) FROM tickets));
         SELECT dashboard_rebuild({bot_id});"
    ))
    .await?;
    // A steady-state database: statistics for the planner, the visibility map for
    // index-only scans.
    main.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

async fn build_indexes(client: &Client, statements: Vec<String>) -> anyhow::Result<()> {
    client
        .batch_execute("SET maintenance_work_mem = '256MB'")
        .await?;
    for statement in statements {
        client.batch_execute(&statement).await?;
    }
    Ok(())
}

async fn seed_users(
    client: &Client,
    bot_id: i64,
    users: i64,
    now: chrono::DateTime<chrono::Utc>,
    key: &PhoneKey,
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            "COPY users (id, bot_id, telegram_id, username, first_name, last_name, language_code,
                         full_name, phone_ciphertext, phone_hash, phone_masked, status,
                         registered_at, created_at, last_seen_at) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::BYTEA,
            Type::BYTEA,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ],
    );
    pin_mut!(writer);
    for i in 0..users {
        let id = i + 1;
        let first = FIRST_NAMES[draw(id, 1, FIRST_NAMES.len() as u64) as usize];
        let feminine = FIRST_NAMES.iter().position(|n| *n == first).unwrap_or(0) >= 15;
        let mut last = LAST_NAMES[draw(id, 2, LAST_NAMES.len() as u64) as usize].to_owned();
        if feminine {
            last.push('а');
        }
        let status = match draw(id, 3, 1000) {
            0..=849 => "registered",
            850..=949 => "new",
            950..=994 => "registering",
            _ => "banned",
        };
        let username = (draw(id, 4, 10) < 6).then(|| {
            format!(
                "{}_{}{}",
                LATIN[draw(id, 5, LATIN.len() as u64) as usize],
                LATIN[draw(id, 6, LATIN.len() as u64) as usize],
                id
            )
        });
        let telegram_last = (draw(id, 7, 2) == 0).then(|| last.clone());
        let created = time_of(i, users, now);
        let registered = matches!(status, "registered" | "banned")
            .then(|| created + chrono::Duration::minutes(2));
        let full_name = registered.map(|_| format!("{last} {first}"));
        let sealed = registered.map(|_| {
            let phone = Phone::parse(&format!("+7{}", 9_000_000_000i64 + id)).expect("bench phone");
            key.seal(&phone)
        });
        let telegram_id = 100_000_000 + id;
        let language = Some("ru");
        let values: [&(dyn ToSql + Sync); 15] = [
            &id,
            &bot_id,
            &telegram_id,
            &username,
            &first,
            &telegram_last,
            &language,
            &full_name,
            &sealed.as_ref().map(|s| s.ciphertext.clone()),
            &sealed.as_ref().map(|s| s.hash.clone()),
            &sealed.as_ref().map(|s| s.masked.clone()),
            &status,
            &registered,
            &created,
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// What receipt `i` is: its shopper, status, tickets, seller and whether it is flagged.
struct ReceiptShape {
    user: i64,
    status: &'static str,
    tickets: i32,
    seller: i64,
    flagged: bool,
    promo: bool,
}

fn receipt_shape(i: i64, users: i64) -> ReceiptShape {
    // A few heavy buyers, most buying a handful of times.
    let skew = draw(i, 10, 1_000_000) as f64 / 1_000_000.0;
    let user = 1 + ((skew * skew * users as f64) as i64).min(users - 1);
    let status = match draw(i, 11, 100) {
        0..=86 => "accepted",
        87..=90 => "pending",
        _ => "rejected",
    };
    let promo = draw(i, 12, 100) < 80;
    let tickets = if promo { 1 + draw(i, 13, 3) as i32 } else { 0 };
    let seller_skew = draw(i, 14, 1_000_000) as f64 / 1_000_000.0;
    let seller = (seller_skew.powi(3) * SELLERS as f64) as i64;
    ReceiptShape {
        user,
        status,
        tickets,
        seller,
        flagged: draw(i, 15, 1000) < 15,
        promo,
    }
}

async fn seed_receipts(
    client: &Client,
    bot_id: i64,
    users: i64,
    receipts: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            "COPY receipts (id, bot_id, user_id, submission_id, fiscal_drive_number,
                            fiscal_document_number, fiscal_sign, operation_type, receipt_at,
                            total_kopecks, seller_inn, seller_name, seller_address, items, raw_qr,
                            tickets, status, fraud_signals, created_at) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT2,
            Type::TIMESTAMP,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::JSONB,
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::JSONB,
            Type::TIMESTAMPTZ,
        ],
    );
    pin_mut!(writer);
    let moscow = chrono::Duration::hours(3);
    for i in 0..receipts {
        let id = i + 1;
        let shape = receipt_shape(i, users);
        let created = time_of(i, receipts, now);
        let receipt_at = (created + moscow - chrono::Duration::minutes(20)).naive_utc();
        let drive = format!("{:016}", 9_999_078_900_000_000i64 + shape.seller);
        let document = id;
        let sign = draw(id, 16, 4_294_967_295) as i64;
        let (name, promo_flag) = if shape.promo {
            PRODUCTS[draw(id, 17, 3) as usize]
        } else {
            PRODUCTS[3 + draw(id, 17, 4) as usize]
        };
        let total = 5_000 + draw(id, 18, 300_000) as i64;
        let items = json!([
            {"name": name, "price": total / 2, "quantity": 1, "sum": total / 2, "promo": promo_flag},
            {"name": PRODUCTS[3 + draw(id, 19, 4) as usize].0, "price": total - total / 2,
             "quantity": 1, "sum": total - total / 2, "promo": false}
        ]);
        let signals = if shape.flagged {
            json!([{"kind": "seller_burst", "detail": "many receipts from one seller"}])
        } else {
            json!([])
        };
        let inn = seller_inn(shape.seller);
        let seller_name = format!("ООО «Магазин №{}»", shape.seller);
        let address = format!("г. Москва, ул. Тверская, д. {}", 1 + shape.seller % 200);
        let qr = format!(
            "t={}&s={}.{:02}&fn={drive}&i={document}&fp={sign}&n=1",
            receipt_at.format("%Y%m%dT%H%M"),
            total / 100,
            total % 100
        );
        let operation: i16 = 1;
        let values: [&(dyn ToSql + Sync); 19] = [
            &id,
            &bot_id,
            &shape.user,
            &id,
            &drive,
            &document,
            &sign,
            &operation,
            &receipt_at,
            &total,
            &inn,
            &seller_name,
            &address,
            &items,
            &qr,
            &shape.tickets,
            &shape.status,
            &signals,
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// One upload per receipt (same id), plus one in twenty that never became a receipt
/// (not a receipt, unreadable, a duplicate), after them.
async fn seed_submissions(
    client: &Client,
    bot_id: i64,
    users: i64,
    receipts: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            "COPY receipt_submissions (id, bot_id, user_id, source, status, outcome, attempts,
                                       provider_calls, receipt_id, created_at, updated_at)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::INT4,
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ],
    );
    pin_mut!(writer);
    let one: i32 = 1;
    for i in 0..receipts {
        let id = i + 1;
        let shape = receipt_shape(i, users);
        let created = time_of(i, receipts, now) - chrono::Duration::seconds(5);
        let (status, outcome) = match shape.status {
            "accepted" => ("accepted", "accepted"),
            "pending" => ("pending_moderation", "fraud_review"),
            _ => ("rejected", "out_of_window"),
        };
        let source = if draw(id, 20, 10) < 8 {
            "photo"
        } else {
            "qr_text"
        };
        let values: [&(dyn ToSql + Sync); 11] = [
            &id,
            &bot_id,
            &shape.user,
            &source,
            &status,
            &outcome,
            &one,
            &one,
            &Some(id),
            &created,
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    let extra = receipts / 20;
    for j in 0..extra {
        let id = receipts + j + 1;
        let user = 1 + draw(id, 21, users as u64) as i64;
        let created = time_of(j, extra, now);
        let (status, outcome) = if draw(id, 22, 2) == 0 {
            ("rejected", "not_a_receipt")
        } else {
            ("failed", "unreadable")
        };
        let none: Option<i64> = None;
        let values: [&(dyn ToSql + Sync); 11] = [
            &id, &bot_id, &user, &"photo", &status, &outcome, &one, &0i32, &none, &created,
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// The ledger: a grant per accepted receipt with promo products, and a few manual grants.
async fn seed_tickets(
    client: &Client,
    bot_id: i64,
    users: i64,
    receipts: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            "COPY tickets (id, bot_id, user_id, receipt_id, amount, source, reason, created_at)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
        ],
    );
    pin_mut!(writer);
    let mut id = 0i64;
    for i in 0..receipts {
        let shape = receipt_shape(i, users);
        if shape.status != "accepted" || shape.tickets == 0 {
            continue;
        }
        id += 1;
        let receipt = Some(i + 1);
        let reason: Option<&str> = None;
        let created = time_of(i, receipts, now);
        let values: [&(dyn ToSql + Sync); 8] = [
            &id,
            &bot_id,
            &shape.user,
            &receipt,
            &shape.tickets,
            &"receipt",
            &reason,
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    let manual = (receipts / 1000).max(1);
    for j in 0..manual {
        id += 1;
        let user = 1 + draw(j, 23, users as u64) as i64;
        let receipt: Option<i64> = None;
        let created = time_of(j, manual, now);
        let values: [&(dyn ToSql + Sync); 8] = [
            &id,
            &bot_id,
            &user,
            &receipt,
            &5i32,
            &"manual",
            &Some("компенсация"),
            &created,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// A completed raffle drawn yesterday among registered shoppers, and a few broadcasts.
async fn seed_raffle_and_campaigns(
    client: &Client,
    bot_id: i64,
    users: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let winners = WINNERS.min(users / 2).max(1);
    let drawn = now - chrono::Duration::days(1);
    client
        .batch_execute(&format!(
            "INSERT INTO campaigns (bot_id, kind, status, content, total, sent, created_via, created_at, finished_at)
             SELECT {bot_id}, 'broadcast', 'completed', '{{\"text\": \"Новая неделя призов!\"}}',
                    {users}, {users}, 'panel', now() - make_interval(days => n), now() - make_interval(days => n)
             FROM generate_series(1, 8) AS n;"
        ))
        .await?;
    let campaign: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, created_at, finished_at)
             VALUES ($1, 'raffle', 'completed', '{\"prize\": \"iPhone 16\"}', $2, $2) RETURNING id",
            &[&bot_id, &drawn],
        )
        .await?
        .get(0);
    let draw_id: i64 = client
        .query_one(
            "INSERT INTO raffle_draws (bot_id, campaign_id, prize, winner_count, seed,
                                       ticket_snapshot, algorithm, drawn_at)
             VALUES ($1, $2, 'iPhone 16 и сертификаты', $3, '\\x00', '[]', 'bench', $4)
             RETURNING id",
            &[&bot_id, &campaign, &(winners as i32), &drawn],
        )
        .await?
        .get(0);
    // Distinct registered shoppers spread over the ids (every stride-th one is registered
    // with probability 0.85, so look a little further when one is not).
    client
        .execute(
            "INSERT INTO raffle_winners (draw_id, bot_id, user_id, position, tickets_at_draw)
             SELECT $1, $2, id, row_number() OVER (ORDER BY id), 1 + (id % 7)::INT
             FROM (SELECT id FROM users WHERE bot_id = $2 AND status = 'registered'
                   ORDER BY (id * 2654435761) % 1000003 LIMIT $3) chosen",
            &[&draw_id, &bot_id, &winners],
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- the requests

struct PlannedCase {
    name: &'static str,
    target: Duration,
    target_percentile: u8,
    /// Paths to request in turn (cycled), so a case is not one cached answer.
    paths: Vec<String>,
    export: bool,
}

async fn plan_cases(
    client: &Client,
    bot_id: i64,
    bench: &AdminBench,
) -> anyhow::Result<Vec<PlannedCase>> {
    let n = bench.requests.max(1);
    let users = bench.users.max(1);
    // Phones of registered shoppers, in the spellings operators paste.
    let phones: Vec<String> = (0..n as i64)
        .map(|k| {
            let id = 1 + draw(k, 30, users as u64) as i64;
            let digits = 9_000_000_000i64 + id;
            match k % 3 {
                0 => format!("+7{digits}"),
                1 => format!("8{digits}"),
                _ => {
                    let d = digits.to_string();
                    format!("+7 ({}) {}-{}-{}", &d[0..3], &d[3..6], &d[6..8], &d[8..10])
                }
            }
        })
        .collect();
    let names: Vec<String> = (0..n as i64)
        .map(|k| {
            let word = if k % 2 == 0 {
                LAST_NAMES[draw(k, 31, LAST_NAMES.len() as u64) as usize]
            } else {
                FIRST_NAMES[draw(k, 31, FIRST_NAMES.len() as u64) as usize]
            };
            let take = 3 + (k % 3) as usize;
            let prefix: String = word.chars().take(take).collect();
            // Operators type lower case as often as not.
            if k % 4 == 1 {
                prefix.to_lowercase()
            } else {
                prefix
            }
        })
        .collect();
    let usernames: Vec<String> = (0..n as i64)
        .map(|k| {
            let a = LATIN[draw(k, 32, LATIN.len() as u64) as usize];
            let b = LATIN[draw(k, 33, LATIN.len() as u64) as usize];
            if k % 2 == 0 {
                format!("@{a}_{}", &b[..2])
            } else {
                format!("@{a}")
            }
        })
        .collect();
    let encode =
        |q: &str| -> String { serde_urlencoded::to_string([("q", q)]).unwrap_or_default() };
    let day_ranges: Vec<String> = (0..n as i64)
        .map(|k| {
            let day = 1 + draw(k, 34, (DAYS - 1) as u64) as i64;
            let to = chrono::Utc::now() - chrono::Duration::days(day);
            let from = to - chrono::Duration::days(1);
            serde_urlencoded::to_string([
                ("from", from.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                ("to", to.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ])
            .unwrap_or_default()
        })
        .collect();
    let raffle_id: i64 = client
        .query_one(
            "SELECT campaign_id FROM raffle_draws WHERE bot_id = $1 ORDER BY id DESC LIMIT 1",
            &[&bot_id],
        )
        .await?
        .get(0);
    let ms = Duration::from_millis;
    let cycle = |f: &dyn Fn(i64) -> String| -> Vec<String> { (0..n as i64).map(f).collect() };
    Ok(vec![
        PlannedCase {
            name: "dashboard (30 days)",
            target: ms(100),
            target_percentile: 95,
            paths: vec!["/api/dashboard?days=30".into()],
            export: false,
        },
        PlannedCase {
            name: "users: search by phone",
            target: ms(50),
            target_percentile: 95,
            paths: phones
                .iter()
                .map(|p| format!("/api/users?{}", encode(p)))
                .collect(),
            export: false,
        },
        PlannedCase {
            name: "users: search by name prefix",
            target: ms(50),
            target_percentile: 95,
            paths: names
                .iter()
                .map(|p| format!("/api/users?{}", encode(p)))
                .collect(),
            export: false,
        },
        PlannedCase {
            name: "users: search by @username prefix",
            target: ms(50),
            target_percentile: 95,
            paths: usernames
                .iter()
                .map(|p| format!("/api/users?{}", encode(p)))
                .collect(),
            export: false,
        },
        PlannedCase {
            name: "receipts: status=pending",
            target: ms(100),
            target_percentile: 95,
            paths: vec!["/api/receipts?status=pending".into()],
            export: false,
        },
        PlannedCase {
            name: "receipts: seller_inn",
            target: ms(100),
            target_percentile: 95,
            paths: cycle(&|k| {
                format!(
                    "/api/receipts?seller_inn={}",
                    seller_inn(draw(k, 35, 50) as i64 * (SELLERS / 50))
                )
            }),
            export: false,
        },
        PlannedCase {
            name: "receipts: flagged=true",
            target: ms(100),
            target_percentile: 95,
            paths: vec!["/api/receipts?flagged=true".into()],
            export: false,
        },
        PlannedCase {
            name: "receipts: has_promo=false",
            target: ms(100),
            target_percentile: 95,
            paths: vec!["/api/receipts?has_promo=false".into()],
            export: false,
        },
        PlannedCase {
            name: "receipts: one day (from, to)",
            target: ms(100),
            target_percentile: 95,
            paths: day_ranges
                .iter()
                .map(|q| format!("/api/receipts?{q}"))
                .collect(),
            export: false,
        },
        PlannedCase {
            name: "receipts: user_id",
            target: ms(100),
            target_percentile: 95,
            paths: cycle(&|k| format!("/api/receipts?user_id={}", 1 + draw(k, 36, users as u64))),
            export: false,
        },
        PlannedCase {
            name: "receipts: status=accepted, page 2",
            target: ms(100),
            target_percentile: 95,
            paths: vec![format!(
                "/api/receipts?status=accepted&before_id={}",
                bench.receipts / 2
            )],
            export: false,
        },
        PlannedCase {
            name: "winners export CSV",
            target: ms(2000),
            target_percentile: 100,
            paths: vec![format!("/api/raffles/{raffle_id}/winners.csv")],
            export: true,
        },
        PlannedCase {
            name: "winners export XLSX",
            target: ms(2000),
            target_percentile: 100,
            paths: vec![format!("/api/raffles/{raffle_id}/winners.xlsx")],
            export: true,
        },
    ])
}

struct PanelSession {
    cookie: String,
}

async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<PanelSession> {
    let response = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"login": LOGIN, "password": PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "sign-in answered {}",
        response.status()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("sign-in set no cookie")?
        .to_owned();
    let body: Value = response.json().await?;
    // Reads need no CSRF token; the panel sends it anyway, so the bench checks it exists.
    anyhow::ensure!(
        body["csrf_token"].is_string(),
        "sign-in returned no CSRF token"
    );
    Ok(PanelSession { cookie })
}

/// Rows an answer carries: the list's length, or a file's lines.
fn rows_in(bytes: &[u8], export: bool) -> usize {
    if export {
        return bytes.iter().filter(|b| **b == b'\n').count();
    }
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        return 0;
    };
    ["users", "receipts"]
        .iter()
        .find_map(|k| body[*k].as_array().map(Vec::len))
        .unwrap_or(usize::from(body.is_object()))
}

async fn measure(
    http: &reqwest::Client,
    base: &str,
    session: &PanelSession,
    planned: PlannedCase,
    bench: &AdminBench,
) -> anyhow::Result<Case> {
    let requests = if planned.export {
        bench.export_requests.max(1)
    } else {
        bench.requests.max(1)
    };
    let warm_up = (requests / 10).max(1);
    let mut samples = Vec::with_capacity(requests);
    let mut rows = 0;
    for k in 0..warm_up + requests {
        let path = &planned.paths[k % planned.paths.len()];
        let started = Instant::now();
        let response = http
            .get(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, &session.cookie)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let took = started.elapsed();
        anyhow::ensure!(
            status.is_success(),
            "{} ({path}) answered {status}: {}",
            planned.name,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        );
        if k >= warm_up {
            samples.push(took);
            rows += rows_in(&bytes, planned.export && path.ends_with(".csv"));
        }
    }
    Ok(Case {
        name: planned.name.to_owned(),
        target: planned.target,
        target_percentile: planned.target_percentile,
        rows,
        samples,
    })
}
