//! `campaign-bench`: start latency, rate accuracy and ceiling of the campaign engine.
//!
//! Everything runs in this process on the local stack (`spawn_app_with`: real Postgres
//! and Redis, the fake Bot API, the listen-bridge and the queue consumers as `promo
//! serve` runs them); the times come from the fake Bot API's own arrival timestamps.
//!
//! ```text
//! cargo run --release -p promo --bin campaign-bench -- --only latency --campaigns 200
//! cargo run --release -p promo --bin campaign-bench -- --only rate --recipients 3000 --rates 30,300
//! cargo run --release -p promo --bin campaign-bench -- --only ceiling --ceiling-recipients 20000
//! ```

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use promo_core::app::App;
use promo_core::campaigns::runner::{self, SliceOutcome};
use promo_core::queue::SqsQueue;
use promo_testkit::telegram::Call;
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::json;

#[derive(Parser)]
#[command(name = "campaign-bench", about = "Benchmark of the campaign engine")]
struct Cli {
    /// Parts to run: latency, rate, ceiling.
    #[arg(long, value_delimiter = ',', default_value = "latency,rate,ceiling")]
    only: Vec<String>,
    /// Measured single-message campaigns per queue backend (start latency).
    #[arg(long, default_value_t = 200)]
    campaigns: usize,
    /// Skip the SQS half of the start latency (no moto server).
    #[arg(long)]
    no_sqs: bool,
    /// Recipients of each rate-accuracy broadcast.
    #[arg(long, default_value_t = 3_000)]
    recipients: i64,
    /// Configured rates to check (msg/s); above 30 runs with PAID_BROADCAST=true.
    #[arg(long, value_delimiter = ',', default_value = "30,300")]
    rates: Vec<u32>,
    /// Bot API answer latency during the rate runs.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Recipients of each engine-ceiling broadcast.
    #[arg(long, default_value_t = 20_000)]
    ceiling_recipients: i64,
    /// Runners working the unthrottled broadcast at once (comma-separated variants).
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    runners: Vec<usize>,
}

/// Telegram ids of the simulated recipients start here.
const FIRST_CHAT: i64 = 700_000_001;
const TEXT: &str = "Розыгрыш iPhone уже завтра!";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(&cli))
}

async fn bench(cli: &Cli) -> anyhow::Result<()> {
    let wants = |part: &str| cli.only.iter().any(|p| p == part);
    eprintln!("load average at start: {}", load_average());
    if wants("latency") {
        start_latency(cli).await?;
    }
    if wants("rate") {
        for &rate in &cli.rates {
            rate_accuracy(cli, rate).await?;
        }
    }
    if wants("ceiling") {
        ceiling(cli).await?;
    }
    eprintln!("load average at end: {}", load_average());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Start latency

async fn start_latency(cli: &Cli) -> anyhow::Result<()> {
    println!("## start latency: INSERT of a single_message → first sendMessage at the fake");
    let app = spawn_app_with(TestConfig::default().with_workers()).await?;
    let (p50, p99, max) = measure_starts(&app, cli.campaigns).await?;
    println!(
        "in-process queue (bridge → in-process queue → consumer → runner): {} campaigns, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        cli.campaigns
    );
    drop(app);
    if cli.no_sqs {
        return Ok(());
    }
    let endpoint = std::env::var("PROMO_TEST_SQS_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9324".to_owned());
    let prefix = format!("bench-{}-", std::process::id());
    let (receipts, campaigns) = SqsQueue::create_queues_for_local(&endpoint, &prefix)
        .await
        .with_context(|| format!("moto must run at {endpoint} (PROMO_TEST_SQS_ENDPOINT)"))?;
    let app = spawn_app_with(
        TestConfig::default()
            .with("RECEIPTS_QUEUE_URL", &receipts)
            .with("CAMPAIGNS_QUEUE_URL", &campaigns)
            .with("SQS_ENDPOINT_URL", &endpoint)
            .with_workers(),
    )
    .await?;
    let (p50, p99, max) = measure_starts(&app, cli.campaigns).await?;
    println!(
        "moto SQS (bridge → SQS → consumer long poll → runner): {} campaigns, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        cli.campaigns
    );
    Ok(())
}

/// Inserts single messages one after another, as operators clicking "send" would, and
/// returns (p50, p99, max) in ms of insert → first `sendMessage` at the fake Bot API.
async fn measure_starts(app: &TestApp, campaigns: usize) -> anyhow::Result<(f64, f64, f64)> {
    const WARMUP: usize = 10;
    let total = campaigns + WARMUP;
    let users = add_users(app, FIRST_CHAT, total as i64).await?;
    // One connection held like the admin API's would be, with the statement prepared, so
    // the measurement starts at the INSERT itself.
    let client = app.app.pool.get().await?;
    let insert = client
        .prepare(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience)
             VALUES ($1, 'single_message', 'scheduled', $2, $3) RETURNING id",
        )
        .await?;
    let mut latencies = Vec::with_capacity(campaigns);
    for (i, (user_id, _chat)) in users.iter().enumerate() {
        app.telegram.clear_calls();
        let before = Instant::now();
        client
            .query_one(
                &insert,
                &[
                    &app.app.bot_id,
                    &json!({ "text": TEXT }),
                    &json!({ "user_ids": [user_id] }),
                ],
            )
            .await?;
        let calls = app
            .telegram
            .wait_for_calls("sendMessage", 1, Duration::from_secs(10))
            .await?;
        let first = calls.first().context("wait_for_calls returned no call")?.at;
        if i >= WARMUP {
            latencies.push(first.saturating_duration_since(before).as_secs_f64() * 1e3);
        }
        // Lets the single message finish and its rate slot pass, so each start is
        // measured on an idle engine, like an operator's click.
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    latencies.sort_by(f64::total_cmp);
    Ok((
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
    ))
}

// ---------------------------------------------------------------------------------------
// Rate accuracy

async fn rate_accuracy(cli: &Cli, rate: u32) -> anyhow::Result<()> {
    let paid = rate > 30;
    let app = spawn_app_with(
        TestConfig::default()
            .with("BROADCAST_RATE", &rate.to_string())
            .with("PAID_BROADCAST", if paid { "true" } else { "false" })
            .with_workers(),
    )
    .await?;
    app.telegram
        .set_latency(Duration::from_millis(cli.latency_ms));
    add_users(&app, FIRST_CHAT, cli.recipients).await?;
    let cpu = CpuSample::take();
    let campaign_id = insert_broadcast(&app).await?;
    let expected = Duration::from_secs_f64(cli.recipients as f64 / f64::from(rate));
    wait_completed(&app, campaign_id, expected * 2 + Duration::from_secs(30)).await?;
    let used = cpu.since();
    let calls = app.telegram.calls_to("sendMessage");
    let stats = SendStats::of(&calls);
    let deviation = (stats.rate / f64::from(rate) - 1.0) * 100.0;
    println!(
        "## rate {rate}/s{}: {} recipients, Bot API latency {} ms",
        if paid { " (paid broadcast)" } else { "" },
        cli.recipients,
        cli.latency_ms
    );
    println!(
        "sends {} (ok {}), first→last {:.2} s, achieved {:.2} msg/s ({deviation:+.2} %), busiest 1-s window {} (limit {rate}), duplicates {}",
        stats.sends, stats.ok, stats.span_secs, stats.rate, stats.busiest_second, stats.duplicates
    );
    println!("{used}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Engine ceiling

async fn ceiling(cli: &Cli) -> anyhow::Result<()> {
    let n = cli.ceiling_recipients;
    println!("## engine ceiling: {n} recipients, fake Bot API answering at once");

    // (1) The configuration maximum, through the bridge and the consumer.
    let app = spawn_app_with(
        TestConfig::default()
            .with("BROADCAST_RATE", "1000")
            .with("PAID_BROADCAST", "true")
            .with_workers(),
    )
    .await?;
    add_users(&app, FIRST_CHAT, n).await?;
    let cpu = CpuSample::take();
    let campaign_id = insert_broadcast(&app).await?;
    let expected = Duration::from_secs_f64(n as f64 / 1000.0);
    wait_completed(&app, campaign_id, expected * 2 + Duration::from_secs(30)).await?;
    let used = cpu.since();
    let stats = SendStats::of(&app.telegram.calls_to("sendMessage"));
    println!(
        "BROADCAST_RATE=1000 PAID_BROADCAST=true (workers): achieved {:.1} msg/s, busiest 1-s window {}, duplicates {}",
        stats.rate, stats.busiest_second, stats.duplicates
    );
    println!("{used}");
    drop(app);

    // (2) Without the limiter's throttle: the runner reads its rate from
    // `app.settings.campaigns`, so a copy of the App with a rate far above any sender's
    // ability leaves the engine itself (claims, Redis grant per send, HTTP, result
    // writes) as the bottleneck. Config validation caps BROADCAST_RATE at 1000, which is
    // why this goes through the public field, not the environment.
    for &runners in &cli.runners {
        let app = spawn_app_with(TestConfig::default()).await?;
        add_users(&app, FIRST_CHAT, n).await?;
        let mut settings = (*app.app.settings).clone();
        settings.campaigns.broadcast_rate_per_second = 1_000_000;
        settings.campaigns.paid_broadcast = true;
        let fast = App {
            settings: std::sync::Arc::new(settings),
            ..app.app.clone()
        };
        let campaign_id = insert_broadcast(&app).await?;
        let cpu = CpuSample::take();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..runners.max(1) {
            let fast = fast.clone();
            tasks.spawn(async move { run_to_end(&fast, campaign_id).await });
        }
        // Done when the campaign is: a runner that found only other runners' rows in
        // flight is told to look again in up to a minute (it would be a delayed job on
        // the queue), and waiting for it would measure that delay, not the engine.
        let timeout = Duration::from_secs_f64(n as f64 / 1000.0) + Duration::from_secs(60);
        let finished = wait_completed(&app, campaign_id, timeout).await;
        let used = cpu.since();
        while let Some(joined) = tasks.try_join_next() {
            joined.context("a runner panicked")??;
        }
        tasks.abort_all();
        finished?;
        let (status, sent) = campaign_counts(&app, campaign_id).await?;
        let stats = SendStats::of(&app.telegram.calls_to("sendMessage"));
        println!(
            "unthrottled, {runners} runner(s): achieved {:.0} msg/s over {:.2} s, {} sends, duplicates {}, campaign {status} with sent = {sent}",
            stats.rate, stats.span_secs, stats.sends, stats.duplicates
        );
        println!("{used}");
    }
    Ok(())
}

/// Runs slices (as the consumer would) until the campaign is no longer running.
async fn run_to_end(app: &App, campaign_id: i64) -> anyhow::Result<()> {
    loop {
        let deadline = Instant::now() + runner::LOCAL_SLICE;
        match runner::run_campaign(&app.campaigns, campaign_id, deadline).await? {
            SliceOutcome::Continue { after } => tokio::time::sleep(after).await,
            SliceOutcome::Completed | SliceOutcome::Idle { .. } => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Inserts `count` registered, reachable users; returns `(users.id, telegram id)`.
async fn add_users(app: &TestApp, first: i64, count: i64) -> anyhow::Result<Vec<(i64, i64)>> {
    let client = app.app.pool.get().await?;
    let rows = client
        .query(
            "INSERT INTO users (bot_id, telegram_id, status, reachable, registered_at)
             SELECT $1, g, 'registered', TRUE, now()
             FROM generate_series($2::bigint, $3::bigint) g
             ORDER BY g RETURNING id, telegram_id",
            &[&app.app.bot_id, &first, &(first + count - 1)],
        )
        .await
        .context("inserting users")?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

async fn insert_broadcast(app: &TestApp) -> anyhow::Result<i64> {
    let client = app.app.pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience)
             VALUES ($1, 'broadcast', 'scheduled', $2, '{\"all\": true}') RETURNING id",
            &[&app.app.bot_id, &json!({ "text": TEXT })],
        )
        .await
        .context("inserting the broadcast")?;
    Ok(row.get(0))
}

async fn campaign_counts(app: &TestApp, campaign_id: i64) -> anyhow::Result<(String, i32)> {
    let client = app.app.pool.get().await?;
    let row = client
        .query_one(
            "SELECT status, sent FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

async fn wait_completed(app: &TestApp, campaign_id: i64, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, sent) = campaign_counts(app, campaign_id).await?;
        match status.as_str() {
            "completed" => return Ok(()),
            "failed" | "cancelled" | "paused" => bail!("campaign {campaign_id} is {status}"),
            _ if Instant::now() > deadline => {
                bail!("campaign {campaign_id} still {status} after {timeout:?} ({sent} sent)")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// What the fake Bot API saw of a broadcast.
struct SendStats {
    sends: usize,
    ok: usize,
    span_secs: f64,
    /// (sends − 1) / (last − first): the sustained rate, no edge effect.
    rate: f64,
    /// Most sends whose arrival falls in any 1-second window.
    busiest_second: usize,
    /// Chats that got more than one message.
    duplicates: usize,
}

impl SendStats {
    fn of(calls: &[Call]) -> SendStats {
        let mut at: Vec<Instant> = calls.iter().map(|call| call.at).collect();
        at.sort();
        let span = match (at.first(), at.last()) {
            (Some(first), Some(last)) => last.duration_since(*first).as_secs_f64(),
            _ => 0.0,
        };
        let mut busiest = 0;
        let mut start = 0;
        for end in 0..at.len() {
            while at[end].duration_since(at[start]) >= Duration::from_secs(1) {
                start += 1;
            }
            busiest = busiest.max(end - start + 1);
        }
        let mut chats: Vec<i64> = calls
            .iter()
            .filter_map(|call| call.params.get("chat_id").and_then(|v| v.as_i64()))
            .collect();
        chats.sort_unstable();
        let distinct = {
            let mut d = chats.clone();
            d.dedup();
            d.len()
        };
        SendStats {
            sends: calls.len(),
            ok: calls.iter().filter(|call| call.status == 200).count(),
            span_secs: span,
            rate: if span > 0.0 {
                (at.len() - 1) as f64 / span
            } else {
                0.0
            },
            busiest_second: busiest,
            duplicates: chats.len() - distinct,
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU of this process (server, runner, fake Bot API) and of the whole machine.
struct CpuSample {
    at: Instant,
    process_ticks: u64,
    machine_busy: u64,
    machine_total: u64,
}

impl CpuSample {
    fn take() -> CpuSample {
        let (machine_busy, machine_total) = machine_ticks();
        CpuSample {
            at: Instant::now(),
            process_ticks: process_ticks(),
            machine_busy,
            machine_total,
        }
    }

    /// One line: this process's CPU in cores, the machine's busy share and idle cores.
    fn since(&self) -> String {
        let wall = self.at.elapsed().as_secs_f64();
        // Linux reports both in USER_HZ, 100 per second on every mainstream build.
        let process = (process_ticks() - self.process_ticks) as f64 / 100.0 / wall;
        let (busy, total) = machine_ticks();
        let (busy, total) = (busy - self.machine_busy, total - self.machine_total);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let share = if total > 0 {
            busy as f64 / total as f64
        } else {
            0.0
        };
        format!(
            "CPU over {wall:.1} s: bench process {process:.2} cores; machine {:.0} % busy of {cores:.0} cores ({:.2} cores idle); load average now {}",
            share * 100.0,
            (1.0 - share) * cores,
            load_average()
        )
    }
}

fn process_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// (busy, total) jiffies of all CPUs from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = stat.lines().next() else {
        return (0, 0);
    };
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    // idle + iowait are not busy.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}
