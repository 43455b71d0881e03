//! `decode-bench`: how many receipt-QR photos the verifier reads locally, and how fast.
//!
//! Generates the seeded corpus of `promo_testkit::corpus` (rotated, blurred, slanted,
//! noisy, faded, small and 12-megapixel pictures), then times `decode_qr_text` on each
//! JPEG, one at a time on one thread, as a verifier Lambda does. A picture counts as
//! decoded only when the text read equals the text encoded.
//!
//! ```text
//! cargo run --release -p promo --bin decode-bench -- --seed 1 --per-kind 50
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use promo_core::receipts::decode_qr_text;
use promo_testkit::corpus::{self, Distortion};

#[derive(Parser)]
#[command(
    name = "decode-bench",
    about = "Local QR decode rate and time per receipt photo"
)]
struct Cli {
    /// Seed of the corpus; the same seed gives the same pictures.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pictures per distortion (8 distortions).
    #[arg(long, default_value_t = 50)]
    per_kind: usize,
    /// List every picture that was not decoded.
    #[arg(long)]
    verbose: bool,
    /// Also write every picture to this directory (JPEG as benchmarked, plus a PNG copy).
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Tally {
    decoded: usize,
    times: Vec<Duration>,
}

impl Tally {
    fn row(&mut self, name: &str) -> String {
        self.times.sort_unstable();
        let total = self.times.len();
        let rate = if total == 0 {
            0.0
        } else {
            100.0 * self.decoded as f64 / total as f64
        };
        format!(
            "{name:<13} {:>4}/{:<4} {rate:>6.1} % {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            self.decoded,
            total,
            millis(percentile(&self.times, 50.0)),
            millis(percentile(&self.times, 90.0)),
            millis(percentile(&self.times, 99.0)),
            millis(self.times.last().copied().unwrap_or_default()),
        )
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn dump(dir: &std::path::Path, images: &[corpus::CorpusImage]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for image in images {
        std::fs::write(dir.join(format!("{}.jpg", image.name)), &image.jpeg)?;
        let png = image.png().map_err(std::io::Error::other)?;
        std::fs::write(dir.join(format!("{}.png", image.name)), png)?;
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run with --release for meaningful times");
    }
    let started = Instant::now();
    let images = corpus::generate(cli.seed, cli.per_kind);
    eprintln!(
        "generated {} pictures (seed {}) in {:.1} s",
        images.len(),
        cli.seed,
        started.elapsed().as_secs_f64()
    );

    if let Some(dir) = &cli.dump {
        if let Err(error) = dump(dir, &images) {
            eprintln!("could not write the pictures to {}: {error}", dir.display());
            std::process::exit(1);
        }
    }

    let mut by_kind: BTreeMap<Distortion, Tally> = BTreeMap::new();
    let mut all = Tally::default();
    let mut misses = Vec::new();
    for image in &images {
        let start = Instant::now();
        let decoded = decode_qr_text(&image.jpeg);
        let elapsed = start.elapsed();
        let ok = decoded.as_deref() == Ok(image.qr_text.as_str());
        let tally = by_kind.entry(image.distortion).or_default();
        for tally in [tally, &mut all] {
            tally.times.push(elapsed);
            tally.decoded += usize::from(ok);
        }
        if !ok {
            misses.push(format!(
                "{} ({}x{}): {decoded:?}",
                image.name, image.width, image.height
            ));
        }
    }

    println!(
        "decode-bench seed={} per-kind={} pictures={}",
        cli.seed,
        cli.per_kind,
        images.len()
    );
    println!(
        "{:<13} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "distortion", "decoded", "rate", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (distortion, tally) in &mut by_kind {
        println!("{}", tally.row(distortion.name()));
    }
    println!("{}", all.row("all"));
    if cli.verbose {
        for miss in &misses {
            println!("not decoded: {miss}");
        }
    }
}
