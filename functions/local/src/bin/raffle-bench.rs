//! `raffle-bench`: a raffle drawn through Postgres at a promotion's full size. Loads a
//! database with N registered shoppers holding T tickets from accepted receipts (once;
//! later runs reuse it), creates a raffle of P prizes with one reserve each, and times
//! the draw's transaction (COPY the snapshot out, hash it, draw, store the canonical
//! snapshot and every pick) and `verify-draw` on it, with the process's peak memory for
//! each.
//!
//! ```text
//! cargo run --release -p promo --bin raffle-bench -- --participants 1000000 --tickets 10000000
//! ```

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use chrono::Utc;
use clap::Parser;
use promo_core::app::App;
use promo_core::audit::Actor;
use promo_core::campaigns::raffle_spec::{self, PrizeSpec, RaffleKind, RaffleMessage, RaffleSpec};
use promo_core::config::Settings;

#[derive(Parser)]
#[command(about = "Time a full-size raffle draw and its verification through Postgres")]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    participants: i64,
    #[arg(long, default_value_t = 10_000_000)]
    tickets: i64,
    #[arg(long, default_value_t = 100)]
    prizes: usize,
    /// The bench's own database on the local server (made and loaded when missing).
    #[arg(long, default_value = "promo_bench_raffle")]
    database: String,
}

/// Peak resident memory (`VmHWM`) in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Starts a new peak: Linux resets `VmHWM` to the current size on "5".
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = "postgres://postgres@127.0.0.1:5432";
    let admin = promo_core::db::connect(&format!("{server}/postgres"), 2)?;
    let exists = admin
        .get()
        .await?
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&args.database],
        )
        .await?
        .is_some();
    if !exists {
        admin
            .get()
            .await?
            .batch_execute(&format!("CREATE DATABASE \"{}\"", args.database))
            .await?;
    }
    let key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", format!("{server}/{}", args.database)),
        ("BOT_SLUG", "raffle-bench".to_owned()),
        ("WEBHOOK_SECRET", "raffle-bench-secret".to_owned()),
        (
            "ADMIN_SECRET_KEY",
            "raffle-bench-admin-secret-key-0123456789".to_owned(),
        ),
        ("PHONE_ENCRYPTION_KEY", key.clone()),
        ("PRIZE_DATA_KEY", key),
    ]);
    let settings = Settings::from_lookup(|name| vars.get(name).cloned())?;
    {
        let pool = promo_core::db::connect(&vars["DATABASE_URL"], 2)?;
        promo_core::db::migrate(&pool).await?;
    }
    let app = App::build(settings).await?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "raffle-bench: {} participants, {} tickets, {} prizes with one reserve each; load average {}",
        args.participants,
        args.tickets,
        args.prizes,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let started = Instant::now();
    if load_data(&app, &args).await? {
        println!(
            "loaded the promotion in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }

    let spec = RaffleSpec {
        title: "Финал (bench)".into(),
        kind: RaffleKind::Final,
        window_from: None,
        window_to: None,
        time_zone: "Europe/Moscow".into(),
        prizes: (1..=args.prizes)
            .map(|n| PrizeSpec {
                name: format!("Приз {n}"),
                quantity: 1,
                value_rub: 10_000,
                photo: None,
            })
            .collect(),
        multiple_wins: false,
        burn_tickets: false,
        reserves_per_prize: 1,
        win_message: RaffleMessage {
            text: "{name}, вы выиграли {prize}!".into(),
            photo: None,
        },
        lose_message: None,
        notify_losers: false,
        scheduled_for: None,
    };
    spec.validate(Utc::now())
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let created = {
        let mut client = app.pool.get().await?;
        let tx = client.transaction().await?;
        let created = raffle_spec::create(
            &tx,
            app.bot_id,
            &Actor::System,
            &spec,
            &app.settings.prize_key,
        )
        .await?;
        tx.commit().await?;
        created
    };

    reset_peak();
    let started = Instant::now();
    let outcome = promo_core::raffle::draw_raffle(&app.campaigns.raffles, created.campaign_id)
        .await?
        .context("the raffle was not drawn")?;
    let drawn = started.elapsed();
    let draw_peak = peak_mib();
    let draw_id = outcome.draw_id.context("no draw")?;

    reset_peak();
    let started = Instant::now();
    let check = promo_core::raffle::verify_draw(&app.pool, app.bot_id, draw_id)
        .await?
        .context("the draw is missing")?;
    let verified = started.elapsed();
    let verify_peak = peak_mib();
    println!(
        "draw (snapshot {} participants / {} tickets, {} picks, stored): {:.0} ms, peak {:.0} MiB",
        check.participants(),
        check.tickets(),
        check.recorded.len(),
        drawn.as_secs_f64() * 1e3,
        draw_peak
    );
    println!(
        "verify-draw: {:.0} ms, peak {:.0} MiB, verified: {}",
        verified.as_secs_f64() * 1e3,
        verify_peak,
        check.verified()
    );
    anyhow::ensure!(check.verified(), "{:?}", check.problems);
    Ok(())
}

/// Loads the shoppers, receipts and tickets unless the bot has them; true when it loaded.
/// Triggers (the dashboard's rollups) are off while loading: the bench is about the draw.
async fn load_data(app: &App, args: &Args) -> anyhow::Result<bool> {
    let client = app.pool.get().await?;
    let users: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE bot_id = $1",
            &[&app.bot_id],
        )
        .await?
        .get(0);
    if users >= args.participants {
        return Ok(false);
    }
    // One to five tickets per receipt (three on average), spread over the shoppers.
    let receipts = args.tickets / 3;
    client
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO users (bot_id, telegram_id, first_name, full_name, language, status,
                                registered_at)
             SELECT {bot}, 100000000 + g, 'Участник', 'Участник ' || g, 'ru', 'registered', now()
             FROM generate_series(1, {participants}) g;
             CREATE TEMP TABLE bench_users AS
                 SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                 FROM users WHERE bot_id = {bot};
             INSERT INTO receipts (bot_id, user_id, fiscal_drive_number, fiscal_document_number,
                                   fiscal_sign, operation_type, receipt_at, total_kopecks,
                                   raw_qr, tickets, status)
             SELECT {bot}, u.id, '9960440300000001', g, 1, 1,
                    TIMESTAMP '2026-06-01' + (g % 5000000) * INTERVAL '1 second', 10000, 'qr',
                    1 + (g * 7919) % 5, 'accepted'
             FROM generate_series(1::BIGINT, {receipts}) g
             JOIN bench_users u ON u.n = (g * 104729) % {participants};
             INSERT INTO tickets (bot_id, user_id, receipt_id, amount, source)
             SELECT bot_id, user_id, id, tickets, 'receipt' FROM receipts WHERE bot_id = {bot};
             SET session_replication_role = DEFAULT;
             ANALYZE users; ANALYZE receipts; ANALYZE tickets;",
            bot = app.bot_id,
            participants = args.participants,
        ))
        .await
        .context("loading the promotion")?;
    Ok(true)
}
