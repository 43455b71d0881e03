//! A broadcast from a real `promo serve` process killed with SIGKILL at random points,
//! restarted each time: nobody is lost unaccounted, nobody gets a second copy, and each
//! restart is sending again within seconds (the bench `crash-bench` runs 20 × 10,000).

use std::time::Duration;

use promo_testkit::crash_loop::{run, CrashLoop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_killed_four_times_loses_nobody_doubles_nobody_and_resumes_within_seconds() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    let config = CrashLoop {
        promo: env!("CARGO_BIN_EXE_promo").into(),
        recipients: 2_000,
        kills: 4,
        rate: 1_000,
        latency: Duration::from_millis(20),
        seed,
        patience: Duration::from_secs(30),
    };
    let report = run(&config).await.expect("crash loop");
    let (p50, max) = report.resume_p50_max();
    println!("seed {seed}: {report:#?}\nresume p50 {p50:?}, max {max:?}");

    assert_eq!(report.status, "completed");
    // Lost: a recipient the fake never delivered to. The only ones allowed are sends on
    // the wire at a kill (launch recorded, last byte not yet out): those are `unknown`.
    assert_eq!(report.lost_not_unknown, 0, "a recipient was skipped");
    assert!(
        report.lost <= report.kills.len(),
        "{} lost over {} kills",
        report.lost,
        report.kills.len()
    );
    // Nothing that may have been delivered is sent again.
    assert_eq!(report.duplicates, 0, "copies beyond the first");
    assert!(report.unknown <= report.in_flight_at_kills());
    // Counters match what arrived: `sent` plus the `unknown` that did arrive.
    assert_eq!(
        report.counter_sent as usize + report.unknown_arrived,
        report.arrived
    );
    assert_eq!(i64::from(report.counter_unknown), report.unknown);
    for (i, kill) in report.kills.iter().enumerate() {
        assert!(
            kill.resumed_after < Duration::from_secs(10),
            "restart {} sent again only after {:?}",
            i + 1,
            kill.resumed_after
        );
    }
}
