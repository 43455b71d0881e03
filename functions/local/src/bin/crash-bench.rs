//! `crash-bench`: a broadcast from a real `promo serve` killed with SIGKILL again and
//! again (20 × 10,000 recipients at 1,000 msg/s by default), measured at the fake Bot API:
//! lost, duplicates, `unknown`, counters against what arrived, resume times.
//!
//! ```text
//! cargo build --release -p promo --bins
//! target/release/crash-bench --kills 20 --recipients 10000 --rate 1000
//! ```
//!
//! The `promo` binary next to this one is the process under test (`--promo` overrides).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use promo_testkit::crash_loop::{run, CrashLoop};

#[derive(Parser)]
#[command(about = "Kill promo serve during a broadcast, again and again, and count copies")]
struct Args {
    #[arg(long, default_value_t = 20)]
    kills: usize,
    #[arg(long, default_value_t = 10_000)]
    recipients: i64,
    /// BROADCAST_RATE, messages per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Latency of the fake Bot API, milliseconds.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Seed of the kill points (default: the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// The `promo` binary (default: next to this one).
    #[arg(long)]
    promo: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let promo = match args.promo {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("promo"))
            .ok_or_else(|| anyhow::anyhow!("no directory around this binary"))?,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let config = CrashLoop {
        promo,
        recipients: args.recipients,
        kills: args.kills,
        rate: args.rate,
        latency: Duration::from_millis(args.latency_ms),
        seed,
        patience: Duration::from_secs(60),
    };
    println!(
        "crash loop: {} kills, {} recipients, {}/s, {} ms Bot API latency, seed {seed}",
        config.kills, config.recipients, config.rate, args.latency_ms
    );
    let report = run(&config).await?;
    for (i, kill) in report.kills.iter().enumerate() {
        println!(
            "  kill {:>2}: {:>6} arrived before, {:>4} in flight, sending again after {:>6.0} ms",
            i + 1,
            kill.arrived_before,
            kill.in_flight,
            kill.resumed_after.as_secs_f64() * 1000.0
        );
    }
    let (p50, max) = report.resume_p50_max();
    println!("status:              {}", report.status);
    println!(
        "lost:                {} (of them not `unknown`: {})",
        report.lost, report.lost_not_unknown
    );
    println!("duplicates:          {}", report.duplicates);
    println!(
        "unknown:             {} ({} of them arrived); in flight at the kills: {}",
        report.unknown,
        report.unknown_arrived,
        report.in_flight_at_kills()
    );
    println!(
        "counters vs arrived: sent {} + unknown {} | arrived {} copies, reached {} of {}",
        report.counter_sent,
        report.counter_unknown,
        report.arrived,
        report.reached,
        report.recipients
    );
    println!(
        "resume after restart: p50 {:.0} ms, max {:.0} ms",
        p50.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0
    );
    println!("took:                {:.1} s", report.took.as_secs_f64());
    Ok(())
}
