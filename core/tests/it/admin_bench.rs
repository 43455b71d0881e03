//! The admin bench (`admin-bench`, BENCHMARKS.md "Admin API") in its smoke size, so the
//! seed, the sign-in and every timed request keep working; the figures come from the
//! release build at full size, not from here.

use promo_testkit::admin_bench::{run, AdminBench};

#[tokio::test]
async fn the_admin_bench_seeds_signs_in_and_times_every_endpoint_in_its_smoke_size() {
    let bench = AdminBench::smoke();
    let report = run(&bench).await.expect("bench");
    println!("{}", report.render());
    assert_eq!((report.users, report.receipts), (2_000, 10_000));
    assert_eq!(report.submissions, 10_000 + 10_000 / 20);
    assert_eq!(report.winners, 1_000);
    assert!(report.seed_time.is_some());
    assert_eq!(report.cases.len(), 13);
    for case in &report.cases {
        assert!(!case.samples.is_empty(), "{}", case.name);
    }
    let rows = |name: &str| {
        report
            .cases
            .iter()
            .find(|c| c.name.starts_with(name))
            .map(|c| c.rows)
            .unwrap_or_default()
    };
    // The searches find shoppers: phones through the app's own HMAC, names by prefix.
    assert!(rows("users: search by phone") >= 1);
    assert!(rows("users: search by name") >= 1);
    assert!(rows("receipts: status=pending") >= 1);
    // Each CSV holds a header and every winner.
    assert_eq!(rows("winners export CSV"), 2 * 1_001);
    // The dashboard of the seeded rows equals them.
    let url = format!("{}/{}", promo_testkit::db::server_url(), bench.database);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("db");
    tokio::spawn(connection);
    let totals = client
        .query_one(
            "SELECT sum(users)::BIGINT, sum(accepted + pending + rejected)::BIGINT FROM dashboard_counts",
            &[],
        )
        .await
        .expect("rollup");
    assert_eq!(
        (totals.get::<_, i64>(0), totals.get::<_, i64>(1)),
        (2_000, 10_000)
    );
}
