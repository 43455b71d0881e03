//! `webhook-bench`: throughput and service time of the telegram-webhook route.
//!
//! The parent process starts the local stack in-process (`spawn_app`: real Postgres and
//! Redis, the fake Bot API, an in-process queue), registers shoppers, then starts a copy
//! of itself as a *driver process* per scenario. The driver posts pre-built Telegram
//! updates over keep-alive HTTP/1.1 connections (plain tokio sockets, so the client costs
//! little CPU) and reports latencies as one JSON line; the parent prints the table.
//!
//! ```text
//! cargo run --release -p promo --bin webhook-bench -- --requests 20000 --concurrency 8
//! ```

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use promo_testkit::app::TEST_WEBHOOK_SECRET;
use promo_testkit::telegram::Updates;
use promo_testkit::{spawn_app_with, TestConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(
    name = "webhook-bench",
    about = "Benchmark of the telegram-webhook route"
)]
struct Cli {
    #[command(subcommand)]
    driver: Option<Driver>,
    /// Measured updates per scenario.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent connections of the driver (Telegram's default max_connections is 40).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Registered shoppers the updates come from, round robin.
    #[arg(long, default_value_t = 200)]
    users: i64,
    /// Run only these scenarios (start, menu_faq, menu_profile, callback).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Experiment: `synchronous_commit = off` on the webhook's connections, to see what
    /// the WAL flush per update costs (not the default; see BENCHMARKS.md).
    #[arg(long)]
    async_commit: bool,
}

#[derive(Subcommand)]
enum Driver {
    /// Internal: the client process started by the bench.
    #[command(hide = true)]
    Drive {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        requests: usize,
        #[arg(long)]
        warmup: usize,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        users: i64,
        #[arg(long)]
        first_update_id: i64,
    },
}

/// Telegram ids of the simulated shoppers start here.
const FIRST_USER: i64 = 900_000_001;
const PATH: &str = "/telegram/webhook";
const SCENARIOS: &[(&str, &str)] = &[
    ("start", "`/start` of a registered shopper"),
    ("menu_faq", "menu button ℹ️ FAQ"),
    ("menu_profile", "menu button 👤 Мой профиль"),
    ("callback", "FAQ topic button (callback)"),
];

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    requests: usize,
    errors: usize,
    elapsed_secs: f64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
    /// CPU time the driver process itself used while measuring.
    driver_cpu_us: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.driver {
        Some(Driver::Drive {
            addr,
            scenario,
            requests,
            warmup,
            concurrency,
            users,
            first_update_id,
        }) => {
            // One thread: the driver must not take the server's second core.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let updates = build_updates(&scenario, warmup + requests, users, first_update_id)?;
            let report = runtime.block_on(drive(&addr, updates, warmup, concurrency))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(bench(&cli))
        }
    }
}

async fn bench(cli: &Cli) -> anyhow::Result<()> {
    let (requests, concurrency, users, only) =
        (cli.requests, cli.concurrency, cli.users, &cli.only);
    let app = spawn_app_with(TestConfig::default()).await?;
    eprintln!("stack up at {}; registering {users} shoppers…", app.address);
    for i in 0..users {
        for text in ["/start", "Иван Петров", "+79991234567"] {
            let answer = app
                .post_update(&Updates::text(FIRST_USER + i, text))
                .await?;
            if answer.status != 200 {
                bail!("registration answered {}", answer.status);
            }
        }
    }

    let exe = std::env::current_exe()?;
    let warmup = (requests / 10).max(500);
    // The machine is shared: besides wall-clock figures, report the CPU each part of the
    // stack spent per update, which other load on the machine barely changes.
    // Open every pooled connection now, so all backends are known before measuring.
    let mut held = Vec::new();
    for _ in 0..app.app.pool.status().max_size {
        let connection = app.app.pool.get().await?;
        if cli.async_commit {
            connection
                .batch_execute("SET synchronous_commit = off")
                .await?;
        }
        held.push(connection);
    }
    drop(held);
    let backends: Vec<String> = app
        .db()
        .await?
        .query(
            "SELECT pid::TEXT FROM pg_stat_activity WHERE datname = current_database()",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let redis = pids_named("redis-server");
    println!(
        "| scenario | updates | concurrency | throughput (updates/s) | p50 | p90 | p99 | max | errors | CPU µs/update: server · Postgres · Redis · driver |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (index, (scenario, label)) in SCENARIOS.iter().enumerate() {
        if !only.is_empty() && !only.iter().any(|o| o == scenario) {
            continue;
        }
        let cpu = |pids: &[String]| pids.iter().map(|pid| cpu_micros(pid)).sum::<u64>();
        let before = (cpu_micros("self"), cpu(&backends), cpu(&redis));
        let output = tokio::process::Command::new(&exe)
            .args([
                "drive",
                "--addr",
                &app.address.to_string(),
                "--scenario",
                scenario,
            ])
            .args(["--requests", &requests.to_string()])
            .args(["--warmup", &warmup.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--users", &users.to_string()])
            .args([
                "--first-update-id",
                &(1_000_000_000 + index as i64 * 10_000_000).to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .await
            .context("running the driver process")?;
        if !output.status.success() {
            bail!("driver for {scenario} failed");
        }
        let report: Report =
            serde_json::from_slice(&output.stdout).context("reading the driver's report")?;
        // Includes the driver's warm-up; the driver's own figure covers the measured part.
        let total = (report.requests + warmup) as u64;
        let per_update = |after: u64, before: u64| after.saturating_sub(before) / total.max(1);
        let server = per_update(cpu_micros("self"), before.0);
        let postgres = per_update(cpu(&backends), before.1);
        let redis_cpu = per_update(cpu(&redis), before.2);
        let driver = report.driver_cpu_us / (report.requests as u64).max(1);
        println!(
            "| {label} | {} | {concurrency} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {server} · {postgres} · {redis_cpu} · {driver} |",
            report.requests,
            report.requests as f64 / report.elapsed_secs,
            report.p50_us as f64 / 1000.0,
            report.p90_us as f64 / 1000.0,
            report.p99_us as f64 / 1000.0,
            report.max_us as f64 / 1000.0,
            report.errors,
        );
    }
    Ok(())
}

/// Complete HTTP requests, one per update, in sending order.
fn build_updates(
    scenario: &str,
    count: usize,
    users: i64,
    first_update_id: i64,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut requests = Vec::with_capacity(count);
    for n in 0..count {
        let user = FIRST_USER + (n as i64 % users);
        let mut update = match scenario {
            "start" => Updates::text(user, "/start"),
            "menu_faq" => Updates::text(user, "ℹ️ FAQ"),
            "menu_profile" => Updates::text(user, "👤 Мой профиль"),
            "callback" => Updates::callback(user, "faq:how", 1_000 + n as i64),
            other => bail!("unknown scenario {other}"),
        };
        // The builders' update_id counter restarts in every process; the bench sets ids
        // itself so no update is dropped as a repeat.
        update["update_id"] = Value::from(first_update_id + n as i64);
        let body = serde_json::to_vec(&update)?;
        let mut request = format!(
            "POST {PATH} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\nx-telegram-bot-api-secret-token: {TEST_WEBHOOK_SECRET}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        requests.push(request);
    }
    Ok(requests)
}

async fn drive(
    addr: &str,
    requests: Vec<Vec<u8>>,
    warmup: usize,
    concurrency: usize,
) -> anyhow::Result<Report> {
    let (warm, measured) = requests.split_at(warmup.min(requests.len()));
    run_connections(addr, warm, concurrency).await?;
    let started = Instant::now();
    let cpu_before = cpu_micros("self");
    let (mut latencies, errors) = run_connections(addr, measured, concurrency).await?;
    let elapsed = started.elapsed();
    let driver_cpu_us = cpu_micros("self").saturating_sub(cpu_before);
    latencies.sort_unstable();
    let at = |q: usize| {
        latencies
            .get((latencies.len() * q / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros() as u64)
    };
    Ok(Report {
        requests: measured.len(),
        errors,
        elapsed_secs: elapsed.as_secs_f64(),
        p50_us: at(50),
        p90_us: at(90),
        p99_us: at(99),
        max_us: latencies.last().map_or(0, |d| d.as_micros() as u64),
        driver_cpu_us,
    })
}

/// `concurrency` connections, each sending its share of `requests` one after another.
async fn run_connections(
    addr: &str,
    requests: &[Vec<u8>],
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let concurrency = concurrency.max(1);
    let mut tasks = Vec::new();
    for lane in 0..concurrency {
        let mine: Vec<Vec<u8>> = requests
            .iter()
            .skip(lane)
            .step_by(concurrency)
            .cloned()
            .collect();
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move { run_lane(&addr, mine).await }));
    }
    let mut latencies = Vec::with_capacity(requests.len());
    let mut errors = 0;
    for task in tasks {
        let (lane, lane_errors) = task.await??;
        latencies.extend(lane);
        errors += lane_errors;
    }
    Ok((latencies, errors))
}

async fn run_lane(addr: &str, requests: Vec<Vec<u8>>) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut latencies = Vec::with_capacity(requests.len());
    let mut errors = 0;
    for request in &requests {
        let started = Instant::now();
        stream.write_all(request).await?;
        let status = read_response(&mut stream, &mut buffer).await?;
        latencies.push(started.elapsed());
        if status != 200 {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

/// Reads one HTTP/1.1 response with a `content-length` body; returns its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<u16> {
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).context("response head")?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .context("status line")?;
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("connection closed mid-body");
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// User + system CPU time of a process from `/proc/<pid>/stat`, in microseconds
/// (assumes the usual 100 clock ticks per second).
fn cpu_micros(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which may itself contain spaces and parentheses.
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) * 10_000
}

fn pids_named(name: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
