//! `admin-bench`: the panel's API over a million shoppers and five million receipts
//! (issue 11). `cargo run --release -p promo-testkit --bin admin-bench -- --users 1000000
//! --receipts 5000000`; the database `promo_bench_admin` is reused when it already holds
//! a seed of that size (`--reseed` forces a new one). Prints p50/p95/p99 per endpoint
//! against its target, and the machine's load before and after.

use promo_testkit::admin_bench::{run, AdminBench};

fn usage() -> ! {
    eprintln!(
        "usage: admin-bench [--users N] [--receipts N] [--requests N] [--export-requests N] \
         [--database NAME] [--reseed] [--smoke]"
    );
    std::process::exit(2)
}

fn number<T: std::str::FromStr>(value: Option<String>) -> T {
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| usage())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut bench = AdminBench::full();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--users" => bench.users = number(args.next()),
            "--receipts" => bench.receipts = number(args.next()),
            "--requests" => bench.requests = number(args.next()),
            "--export-requests" => bench.export_requests = number(args.next()),
            "--database" => bench.database = args.next().unwrap_or_else(|| usage()),
            "--reseed" => bench.reseed = true,
            "--smoke" => {
                let smoke = AdminBench::smoke();
                bench.users = smoke.users;
                bench.receipts = smoke.receipts;
                bench.requests = smoke.requests;
                bench.export_requests = smoke.export_requests;
            }
            _ => usage(),
        }
    }
    if bench.users < 2 || bench.receipts < 1 {
        eprintln!("--users must be at least 2 and --receipts at least 1");
        std::process::exit(2);
    }
    println!(
        "admin-bench: {} users, {} receipts in {}",
        bench.users, bench.receipts, bench.database
    );
    let report = run(&bench).await?;
    print!("{}", report.render());
    println!(
        "{}",
        if report.all_passed() {
            "all targets met"
        } else {
            "some targets missed"
        }
    );
    Ok(())
}
