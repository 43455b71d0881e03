//! `decode-bench`: how many receipt-QR photos the verifier reads locally, and how fast,
//! side by side with OpenCV's two QR readers on the very same pictures.
//!
//! Generates the seeded corpora of `promo_testkit::corpus`: the first one (rotated,
//! blurred, slanted, noisy, faded, small and 12-megapixel pictures) and the hard one
//! (`corpus::hard`: tiny codes, glare, shadows, crumpled paper, screenshots, JPEG
//! 40–60). Then times `decode_qr_text` on each JPEG, one at a time on one thread, as a
//! verifier Lambda does. A picture counts as decoded only when the text read equals the
//! text encoded. When `python3 -c "import cv2"` works (PyPI
//! `opencv-contrib-python-headless`), the pictures are also written to a temporary
//! directory and read by `infra/bench/opencv_decode.py` with `cv2.QRCodeDetector` and
//! `cv2.wechat_qrcode_WeChatQRCode`, on one thread, timed the same way (JPEG decode
//! included).
//!
//! ```text
//! cargo run --release -p promo --bin decode-bench -- --seed 1
//! cargo run --release -p promo --bin decode-bench -- --pipelines all   # rqrr vs rxing
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use promo_core::receipts::decode::{
    decode_qr_text_using, decode_with_pass, Pass, Pipeline, DECODE_BUDGET,
};
use promo_testkit::corpus::{self, hard};

#[derive(Parser)]
#[command(
    name = "decode-bench",
    about = "Local QR decode rate and time per receipt photo, beside OpenCV"
)]
struct Cli {
    /// Seed of the corpora; the same seed gives the same pictures.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pictures per distortion of the first corpus (8 distortions); 0 leaves it out.
    #[arg(long, default_value_t = 50)]
    per_kind: usize,
    /// Pictures per kind of the hard corpus (12 kinds); 0 leaves it out.
    #[arg(long, default_value_t = 50)]
    hard_per_kind: usize,
    /// Only these distortions / kinds (comma-separated names, e.g. `glare,faded`).
    #[arg(long)]
    kinds: Option<String>,
    /// Our pipelines to measure: `chosen` (what `decode_qr_text` runs), `all`, or a
    /// comma-separated list of rqrr, rxing, rqrr+rxing, rxing+rqrr.
    #[arg(long, default_value = "chosen")]
    pipelines: String,
    /// Instead of the comparison: run every decoding pass alone on every picture and
    /// report what each reads and costs (to choose the passes and their order).
    #[arg(long)]
    passes: bool,
    /// With --passes: also write every picture's result and time per pass to this CSV.
    #[arg(long)]
    passes_csv: Option<PathBuf>,
    /// Do not run OpenCV even when it is installed.
    #[arg(long)]
    no_opencv: bool,
    /// List every picture that our chosen pipeline did not decode.
    #[arg(long)]
    verbose: bool,
    /// Also write every picture to this directory (JPEG as benchmarked, plus a PNG copy).
    #[arg(long)]
    dump: Option<PathBuf>,
}

/// A picture of either corpus.
struct Picture {
    corpus: &'static str,
    group: &'static str,
    name: String,
    qr_text: String,
    jpeg: Vec<u8>,
}

/// One reader's result on one picture: wall time, and the CPU time of the thread that
/// decoded it (the machine is shared: other processes stretch the first, hardly the
/// second).
#[derive(Clone, Copy)]
struct Outcome {
    decoded: bool,
    time: Duration,
    cpu: Duration,
}

#[repr(C)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

extern "C" {
    /// libc's, linked into every Rust binary on Linux.
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// CPU time used by the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: `time` is a valid, writable timespec for the duration of the call.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(time.seconds as u64, time.nanoseconds as u32)
}

#[derive(Default)]
struct Tally {
    decoded: usize,
    times: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        self.decoded += usize::from(outcome.decoded);
        self.times.push(outcome.time);
        self.cpu.push(outcome.cpu);
    }

    fn cpu_p(&self, percent: f64) -> f64 {
        let mut cpu = self.cpu.clone();
        cpu.sort_unstable();
        millis(percentile(&cpu, percent))
    }

    fn rate(&self) -> f64 {
        if self.times.is_empty() {
            0.0
        } else {
            100.0 * self.decoded as f64 / self.times.len() as f64
        }
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut times = self.times.clone();
        times.sort_unstable();
        times
    }

    fn p(&self, percent: f64) -> f64 {
        millis(percentile(&self.sorted(), percent))
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

/// Both corpora, generated on every core (each picture is seeded on its own, so the
/// order of work does not change them; generation is not measured).
fn pictures(cli: &Cli) -> Vec<Picture> {
    enum Job {
        First(corpus::Distortion, usize),
        Hard(hard::Kind, usize),
    }
    let wanted = |name: &str| {
        cli.kinds
            .as_deref()
            .is_none_or(|kinds| kinds.split(',').any(|kind| kind.trim() == name))
    };
    let mut jobs = Vec::new();
    for distortion in corpus::Distortion::ALL
        .into_iter()
        .filter(|d| wanted(d.name()))
    {
        jobs.extend((0..cli.per_kind).map(|index| Job::First(distortion, index)));
    }
    for kind in hard::Kind::ALL.into_iter().filter(|k| wanted(k.name())) {
        jobs.extend((0..cli.hard_per_kind).map(|index| Job::Hard(kind, index)));
    }
    let seed = cli.seed;
    let make = |job: &Job| match *job {
        Job::First(distortion, index) => {
            let image = corpus::generate_one(seed, distortion, index);
            Picture {
                corpus: "first",
                group: image.distortion.name(),
                name: image.name,
                qr_text: image.qr_text,
                jpeg: image.jpeg,
            }
        }
        Job::Hard(kind, index) => {
            let image = hard::generate_one(seed, kind, index);
            Picture {
                corpus: "hard",
                group: image.kind.name(),
                name: format!("hard-{}", image.name),
                qr_text: image.qr_text,
                jpeg: image.jpeg,
            }
        }
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut slots: Vec<Option<Picture>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (jobs, make) = (&jobs, &make);
                scope.spawn(move || {
                    (worker..jobs.len())
                        .step_by(workers)
                        .map(|index| (index, make(&jobs[index])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A panic in the generator is a bug in the corpus; let it show.
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (index, picture) in done {
                slots[index] = Some(picture);
            }
        }
    });
    slots.into_iter().flatten().collect()
}

fn write_pictures(dir: &Path, pictures: &[Picture], png: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for picture in pictures {
        std::fs::write(dir.join(format!("{}.jpg", picture.name)), &picture.jpeg)?;
        if png {
            let decoded = image::load_from_memory(&picture.jpeg).map_err(std::io::Error::other)?;
            decoded
                .save(dir.join(format!("{}.png", picture.name)))
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

fn parse_pipelines(list: &str) -> Result<Vec<Pipeline>, String> {
    match list {
        "chosen" => return Ok(vec![Pipeline::CHOSEN]),
        "all" => return parse_pipelines("rxing+rqrr,rqrr,rxing,rqrr+rxing"),
        _ => {}
    }
    let mut pipelines = list
        .split(',')
        .map(|name| {
            Pipeline::ALL
                .into_iter()
                .find(|pipeline| pipeline.name() == name.trim())
                .ok_or_else(|| format!("unknown pipeline {name:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The chosen pipeline comes first: the ratios are taken against the first column.
    pipelines.sort_by_key(|pipeline| *pipeline != Pipeline::CHOSEN);
    Ok(pipelines)
}

/// Why OpenCV cannot run here, or `None` when it can.
fn opencv_missing() -> Option<String> {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import cv2; cv2.QRCodeDetector; cv2.wechat_qrcode_WeChatQRCode",
        ])
        .output();
    match probe {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("import failed")
                .to_owned(),
        ),
        Err(error) => Some(format!("python3 could not be started: {error}")),
    }
}

/// Runs the OpenCV script on the pictures: per picture name, the outcome of
/// `QRCodeDetector` and of `WeChatQRCode`.
fn run_opencv(pictures: &[Picture]) -> Result<HashMap<String, [Outcome; 2]>, String> {
    let dir = std::env::temp_dir().join(format!("decode-bench-{}", std::process::id()));
    write_pictures(&dir, pictures, false).map_err(|e| format!("writing the pictures: {e}"))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/bench/opencv_decode.py");
    let output = Command::new("python3").arg(&script).arg(&dir).output();
    // The pictures are regenerated from the seed at will; never leave them behind.
    let _ = std::fs::remove_dir_all(&dir);
    let output = output.map_err(|e| format!("running {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let expected: HashMap<&str, &str> = pictures
        .iter()
        .map(|p| (p.name.as_str(), p.qr_text.as_str()))
        .collect();
    let mut outcomes = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("bad line {line:?}: {e}"))?;
        let file = value["file"].as_str().unwrap_or_default();
        let name = file.trim_end_matches(".jpg");
        let Some(&text) = expected.get(name) else {
            continue;
        };
        let ms = |reader: &str, field: &str| {
            Duration::from_secs_f64(value[reader][field].as_f64().unwrap_or(0.0) / 1000.0)
        };
        let outcome = |reader: &str| Outcome {
            decoded: value[reader]["texts"]
                .as_array()
                .is_some_and(|texts| texts.iter().any(|t| t.as_str() == Some(text))),
            time: ms(reader, "ms"),
            cpu: ms(reader, "cpu_ms"),
        };
        outcomes.insert(name.to_owned(), [outcome("qrcode"), outcome("wechat")]);
    }
    Ok(outcomes)
}

/// Every pass alone on every picture: per corpus and kind, how many each reads, how
/// many of those the first pass misses, and its median time.
fn report_passes(pictures: &[Picture], verbose: bool, csv: Option<&Path>) {
    let mut outcomes: Vec<Vec<Outcome>> = Vec::with_capacity(pictures.len());
    for picture in pictures {
        let row = Pass::ALL
            .iter()
            .map(|pass| {
                let (start, cpu) = (Instant::now(), thread_cpu_time());
                let texts = decode_with_pass(&picture.jpeg, *pass).unwrap_or_default();
                Outcome {
                    decoded: texts.contains(&picture.qr_text),
                    time: start.elapsed(),
                    cpu: thread_cpu_time().saturating_sub(cpu),
                }
            })
            .collect();
        outcomes.push(row);
    }
    println!("load average (1/5/15 min): {}", load_average());
    let names: Vec<&str> = Pass::ALL.iter().map(|p| p.name()).collect();
    if let Some(path) = csv {
        let mut lines = vec![format!("corpus,kind,name,{}", names.join(","))];
        for (picture, row) in pictures.iter().zip(&outcomes) {
            let cells: Vec<String> = row
                .iter()
                .map(|o| format!("{}:{:.2}", u8::from(o.decoded), millis(o.time)))
                .collect();
            lines.push(format!(
                "{},{},{},{}",
                picture.corpus,
                picture.group,
                picture.name,
                cells.join(",")
            ));
        }
        if let Err(error) = std::fs::write(path, lines.join("\n") + "\n") {
            eprintln!("could not write {}: {error}", path.display());
        }
    }
    for corpus_name in ["first", "hard"] {
        let mut groups: Vec<&str> = Vec::new();
        for picture in pictures.iter().filter(|p| p.corpus == corpus_name) {
            if !groups.contains(&picture.group) {
                groups.push(picture.group);
            }
        }
        if groups.is_empty() {
            continue;
        }
        println!();
        println!(
            "## {corpus_name} corpus, each pass alone: decoded (+ not by {}) · p50 ms",
            names[0]
        );
        println!();
        println!("| kind | any | {} |", names.join(" | "));
        println!("|---|---|{}", "---|".repeat(names.len()));
        for group in groups.iter().copied().chain(["all"]) {
            let rows: Vec<&Vec<Outcome>> = pictures
                .iter()
                .zip(&outcomes)
                .filter(|(p, _)| p.corpus == corpus_name && (group == "all" || p.group == group))
                .map(|(_, row)| row)
                .collect();
            let any = rows
                .iter()
                .filter(|row| row.iter().any(|o| o.decoded))
                .count();
            let cells: Vec<String> = (0..names.len())
                .map(|index| {
                    let mut tally = Tally::default();
                    let mut extra = 0;
                    for row in &rows {
                        tally.add(row[index]);
                        extra += usize::from(row[index].decoded && !row[0].decoded);
                    }
                    format!("{} (+{extra}) · {:.1}", tally.decoded, tally.p(50.0))
                })
                .collect();
            println!("| {group} | {any}/{} | {} |", rows.len(), cells.join(" | "));
        }
    }
    if verbose {
        println!();
        for (picture, row) in pictures.iter().zip(&outcomes) {
            let read: Vec<&str> = row
                .iter()
                .zip(&names)
                .filter(|(o, _)| o.decoded)
                .map(|(_, name)| *name)
                .collect();
            if !row[0].decoded {
                println!("{}: {}", picture.name, read.join(", "));
            }
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let cli = Cli::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run with --release for meaningful times");
    }
    let pipelines = match parse_pipelines(&cli.pipelines) {
        Ok(pipelines) => pipelines,
        Err(error) => {
            eprintln!("--pipelines: {error}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let pictures = pictures(&cli);
    eprintln!(
        "generated {} pictures (seed {}) in {:.1} s",
        pictures.len(),
        cli.seed,
        started.elapsed().as_secs_f64()
    );
    if let Some(dir) = &cli.dump {
        if let Err(error) = write_pictures(dir, &pictures, true) {
            eprintln!("could not write the pictures to {}: {error}", dir.display());
            std::process::exit(1);
        }
    }

    if cli.passes {
        report_passes(&pictures, cli.verbose, cli.passes_csv.as_deref());
        return;
    }

    let load_before = load_average();
    // Readers by column: our pipelines, then OpenCV's two when available.
    let mut readers: Vec<String> = pipelines
        .iter()
        .map(|p| {
            if *p == Pipeline::CHOSEN {
                format!("ours ({})", p.name())
            } else {
                p.name().to_owned()
            }
        })
        .collect();
    let mut results: Vec<Vec<Outcome>> = vec![Vec::new(); pictures.len()];
    let mut misses = Vec::new();
    for pipeline in &pipelines {
        for (picture, row) in pictures.iter().zip(&mut results) {
            let (start, cpu) = (Instant::now(), thread_cpu_time());
            let decoded = decode_qr_text_using(&picture.jpeg, *pipeline, DECODE_BUDGET);
            let time = start.elapsed();
            let cpu = thread_cpu_time().saturating_sub(cpu);
            let ok = decoded.as_deref() == Ok(picture.qr_text.as_str());
            row.push(Outcome {
                decoded: ok,
                time,
                cpu,
            });
            if !ok && *pipeline == Pipeline::CHOSEN {
                misses.push(format!("{}: {decoded:?}", picture.name));
            }
        }
    }
    let load_ours = load_average();

    let opencv = if cli.no_opencv {
        Err("--no-opencv".to_owned())
    } else {
        match opencv_missing() {
            Some(why) => Err(format!(
                "{why} (pip install opencv-contrib-python-headless)"
            )),
            None => run_opencv(&pictures),
        }
    };
    match &opencv {
        Ok(outcomes) => {
            readers.push("OpenCV QRCodeDetector".into());
            readers.push("OpenCV WeChatQRCode".into());
            for (picture, row) in pictures.iter().zip(&mut results) {
                let missing = Outcome {
                    decoded: false,
                    time: Duration::ZERO,
                    cpu: Duration::ZERO,
                };
                let [qrcode, wechat] = outcomes.get(&picture.name).copied().unwrap_or([missing; 2]);
                row.push(qrcode);
                row.push(wechat);
            }
        }
        Err(why) => println!("OpenCV skipped: {why}"),
    }

    println!(
        "decode-bench seed={} per-kind={} hard-per-kind={} pictures={} budget={:?}",
        cli.seed,
        cli.per_kind,
        cli.hard_per_kind,
        pictures.len(),
        DECODE_BUDGET
    );
    println!(
        "load average (1/5/15 min): before {load_before}, after our decoders {load_ours}, at the end {}",
        load_average()
    );
    for corpus_name in ["first", "hard"] {
        let mut groups: BTreeMap<&str, Vec<Tally>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        let mut all: Vec<Tally> = readers.iter().map(|_| Tally::default()).collect();
        for (picture, row) in pictures.iter().zip(&results) {
            if picture.corpus != corpus_name {
                continue;
            }
            if !order.contains(&picture.group) {
                order.push(picture.group);
            }
            let tallies = groups
                .entry(picture.group)
                .or_insert_with(|| readers.iter().map(|_| Tally::default()).collect());
            for (index, outcome) in row.iter().enumerate() {
                tallies[index].add(*outcome);
                all[index].add(*outcome);
            }
        }
        if order.is_empty() {
            continue;
        }
        println!();
        println!("## {corpus_name} corpus: decoded · CPU p50 ms · CPU p99 ms");
        println!();
        println!("| kind | {} |", readers.join(" | "));
        println!("|---|{}", "---|".repeat(readers.len()));
        let cell = |t: &Tally| {
            format!(
                "{}/{} · {:.1} · {:.1}",
                t.decoded,
                t.times.len(),
                t.cpu_p(50.0),
                t.cpu_p(99.0)
            )
        };
        for group in &order {
            let cells: Vec<String> = groups[group].iter().map(cell).collect();
            println!("| {group} | {} |", cells.join(" | "));
        }
        let cells: Vec<String> = all.iter().map(cell).collect();
        println!("| **all** | {} |", cells.join(" | "));
        println!();
        println!("| reader | decoded | rate | p50 ms | p90 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms | rate vs first | p50 vs first | p99 vs first |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        let ours = &all[0];
        for (name, tally) in readers.iter().zip(&all) {
            println!(
                "| {name} | {}/{} | {:.1} % | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} pt | {:.2}× | {:.2}× |",
                tally.decoded,
                tally.times.len(),
                tally.rate(),
                tally.p(50.0),
                tally.p(90.0),
                tally.p(99.0),
                tally.p(100.0),
                tally.cpu_p(50.0),
                tally.cpu_p(99.0),
                tally.rate() - ours.rate(),
                tally.p(50.0) / ours.p(50.0).max(1e-9),
                tally.p(99.0) / ours.p(99.0).max(1e-9),
            );
        }
    }
    if cli.verbose {
        println!();
        for miss in &misses {
            println!("not decoded by ours: {miss}");
        }
    }
}
