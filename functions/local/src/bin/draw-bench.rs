//! `draw-bench`: the verifiable draw (v2) at a promotion's full size, in memory: build and
//! hash a snapshot of N participants holding T tickets, draw P picks, and redo it as a
//! verifier would; prints the time of each step and the process's peak memory.
//!
//! ```text
//! cargo run --release -p promo --bin draw-bench -- --participants 1000000 --tickets 10000000 --picks 200
//! ```
//!
//! The database's part (reading the ticket balances) is not in these figures.

use std::time::Instant;

use clap::Parser;
use promo_core::campaigns::draw::{draw, Snapshot};
use rand::{Rng, SeedableRng};

#[derive(Parser)]
#[command(about = "Time the verifiable draw on a snapshot of a full-size promotion")]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    participants: i64,
    #[arg(long, default_value_t = 10_000_000)]
    tickets: i64,
    /// Winners and reserves together (100 prizes with one reserve each: 200).
    #[arg(long, default_value_t = 200)]
    picks: usize,
}

/// Peak resident memory of this process (`VmHWM`), in MiB, where Linux says it.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args = Args::parse();
    if args.participants < 1 || args.tickets < args.participants {
        eprintln!("need at least one participant and one ticket each");
        std::process::exit(2);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "draw-bench: {} participants, {} tickets, {} picks; load average {}",
        args.participants,
        args.tickets,
        args.picks,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Holdings: everyone has one, the rest spread at random (a few hold many).
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut holdings = vec![1i64; args.participants as usize];
    for _ in 0..(args.tickets - args.participants) {
        let at = rng.gen_range(0..holdings.len());
        holdings[at] += 1;
    }
    let started = Instant::now();
    let mut snapshot = Snapshot::new();
    for (i, tickets) in holdings.iter().enumerate() {
        if let Err(error) = snapshot.push(i as i64 * 3 + 1, *tickets) {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
    let hash = snapshot.hash();
    let built = started.elapsed();
    let seed = [42u8; 32];
    let started = Instant::now();
    let winners = draw(&snapshot, &seed, args.picks);
    let drawn = started.elapsed();
    let started = Instant::now();
    let again = draw(&snapshot, &seed, args.picks);
    let redone = started.elapsed();
    println!(
        "snapshot built and hashed: {:.0} ms ({hash})",
        built.as_secs_f64() * 1e3
    );
    println!(
        "draw of {} picks: {:.1} ms",
        winners.len(),
        drawn.as_secs_f64() * 1e3
    );
    println!(
        "redo (verify): {:.1} ms, same winners: {}",
        redone.as_secs_f64() * 1e3,
        again == winners
    );
    // The algorithm of earlier draws, on the same holdings, for the ratio.
    let entries: Vec<(i64, i64)> = holdings
        .iter()
        .enumerate()
        .map(|(i, t)| (i as i64 * 3 + 1, *t))
        .collect();
    let started = Instant::now();
    let v1 = promo_core::raffle::draw_winners(&entries, args.picks, seed);
    let v1_time = started.elapsed();
    println!(
        "v1 (linear scan per pick) on the same snapshot: {:.1} ms for {} picks, {:.0}× the v2 draw",
        v1_time.as_secs_f64() * 1e3,
        v1.len(),
        v1_time.as_secs_f64() / drawn.as_secs_f64().max(1e-9)
    );
    if let Some(peak) = peak_mib() {
        println!("peak memory of the process: {peak:.0} MiB");
    }
}
