//! `promo`: the whole platform in one process (serve), plus the operator's chores
//! (migrate, set-webhook, create-admin, verify-draw).

mod lambda_demo;
mod sandbox;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use promo_core::app::App;
use promo_core::config::Settings;
use promo_core::server::{local_router_with, HttpServer, IndexEntry};
use secrecy::ExposeSecret;

#[derive(Parser)]
#[command(name = "promo", about = "Receipt-promo platform for Telegram", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack: webhook, admin API, queues, workers and the bridge.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Point Telegram at WEBHOOK_BASE_URL + /telegram/webhook with WEBHOOK_SECRET.
    SetWebhook {
        /// Drop updates Telegram queued while no webhook was set.
        #[arg(long)]
        drop_pending_updates: bool,
    },
    /// Create (or reset the password of) a panel user; the password is read from stdin.
    CreateAdmin {
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "manager", value_parser = ["owner", "manager", "viewer"])]
        role: String,
        /// Link the panel user to a Telegram account (admin menu in the bot).
        #[arg(long)]
        telegram_id: Option<i64>,
    },
    /// Redo a recorded raffle draw and say whether it matches: the seed against its
    /// commitment, the snapshot against its hash, the winners against the algorithm.
    /// Exits 1 when anything does not match.
    VerifyDraw {
        /// The draw's id (`draw_id` in `GET /api/raffles`).
        draw_id: i64,
    },
    /// Work for the functions under `cargo lambda watch`: fake Telegram and ProverkaCheka,
    /// a shopper, a receipt upload and a broadcast, an env file and the two SQS events.
    LambdaDemo {
        /// Where the env file and the events are written.
        #[arg(long, default_value = ".local/lambda")]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    promo_core::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::SetWebhook {
            drop_pending_updates,
        } => set_webhook(drop_pending_updates).await,
        Command::CreateAdmin {
            login,
            role,
            telegram_id,
        } => create_admin(&login, &role, telegram_id).await,
        Command::LambdaDemo { out } => lambda_demo(&out).await,
        Command::VerifyDraw { draw_id } => match verify_draw(draw_id).await {
            Ok(true) => Ok(()),
            Ok(false) => return std::process::ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn settings_with(overrides: &HashMap<&str, String>) -> anyhow::Result<Settings> {
    Settings::from_lookup(|name| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
    .context("invalid configuration")
}

async fn migrate() -> anyhow::Result<()> {
    let settings = settings_with(&HashMap::new())?;
    let applied = run_migrations(&settings).await?;
    if applied.is_empty() {
        println!("database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}

async fn run_migrations(settings: &Settings) -> anyhow::Result<Vec<&'static str>> {
    let pool = promo_core::db::connect(settings.store.database_url.expose_secret(), 2)?;
    promo_core::db::migrate(&pool).await
}

async fn serve() -> anyhow::Result<()> {
    // Sandbox mode: with no bot token the fakes stand in for Telegram and ProverkaCheka,
    // so the product can be tried offline. They must run before settings are read
    // because their random ports become the API base URLs.
    let sandbox_wanted = std::env::var("BOT_TOKEN").map_or(true, |t| t.trim().is_empty());
    let fakes = if sandbox_wanted {
        Some(sandbox::Fakes::start().await?)
    } else {
        None
    };
    let overrides = fakes
        .as_ref()
        .map(sandbox::Fakes::setting_overrides)
        .unwrap_or_default();
    let settings = settings_with(&overrides)?;
    for version in run_migrations(&settings).await? {
        tracing::info!(version, "migration applied");
    }
    let app = App::build(settings).await?;
    bootstrap_admin(&app).await?;

    let mut index = Vec::new();
    if fakes.is_some() {
        index.push(IndexEntry::new(
            "GET",
            "/sandbox",
            "the sandbox: leads to the panel's test chat (its JSON API under /sandbox/api)",
        ));
    }
    let mut router = local_router_with(app.clone(), index);
    if let Some(fakes) = &fakes {
        router = router.merge(sandbox::router(app.clone(), fakes.clone()));
    }
    let server = HttpServer::bind(app.settings.bind_addr, router).await?;
    let address = server.local_addr()?;
    let base = format!("http://{address}");
    if let Some(fakes) = &fakes {
        fakes.point_webhook_at(&app, &base).await?;
        fakes.invent_receipts(&app.settings.promo.target_keywords);
    }

    // Only what this process really serves; `/routes` lists the same.
    println!("promo is running");
    match promo_core::server::panel_bundle(&app.settings) {
        Some(_) => println!("  panel:         {base}/"),
        None => println!(
            "  panel:         not built (infra/scripts/build-ui.sh, then PANEL_DIR=admin-ui/dist)"
        ),
    }
    println!("  routes:        {base}{}", promo_core::server::ROUTES_PATH);
    println!("  health:        {base}/health");
    println!(
        "  webhook:       POST {base}{}",
        promo_core::bot::webhook::WEBHOOK_PATH
    );
    if fakes.is_some() {
        println!(
            "  SANDBOX MODE:  no BOT_TOKEN set; fake Telegram and ProverkaCheka run in-process."
        );
        println!("  try the bot:   {base}/test-chat (the panel's test chat)");
    }
    // Where the panel password lives, on every start (never the password itself).
    match &app.settings.panel.password {
        Some(_) => println!(
            "  panel login:   {} (password from ADMIN_PANEL_PASSWORD)",
            app.settings.panel.user
        ),
        None => println!(
            "  panel login:   none (set ADMIN_PANEL_PASSWORD, or run `promo create-admin`)"
        ),
    }
    println!("Press Ctrl+C to stop.");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = promo_core::server::spawn_workers(&app, stopped);
    let result = server.run_until(stop_requested()).await;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    result
}

/// Ctrl+C at a terminal, or SIGTERM from a supervisor (systemd, `kill`, a test harness).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be handled; stop with Ctrl+C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn lambda_demo(out: &std::path::Path) -> anyhow::Result<()> {
    let prepared = lambda_demo::prepare(settings_with, out).await?;
    let show = |path: &std::path::Path| path.display().to_string();
    println!("lambda demo is ready");
    println!(
        "  fake Telegram:       {}",
        prepared.fakes.telegram.base_url()
    );
    println!(
        "  fake ProverkaCheka:  {}",
        prepared.fakes.proverkacheka.base_url()
    );
    println!("  settings:            {}", show(&prepared.env_file));
    println!(
        "  receipt upload {}:   {}",
        prepared.submission_id,
        show(&prepared.receipt_event)
    );
    println!(
        "  broadcast {}:        {}",
        prepared.campaign_id,
        show(&prepared.campaign_event)
    );
    println!("In another terminal:");
    println!(
        "  cargo lambda watch -A 127.0.0.1 -P 9000 --env-file {}",
        show(&prepared.env_file)
    );
    println!(
        "  cargo lambda invoke receipt-verifier -A 127.0.0.1 -P 9000 --data-file {}",
        show(&prepared.receipt_event)
    );
    println!(
        "  cargo lambda invoke campaign-runner -A 127.0.0.1 -P 9000 --data-file {}",
        show(&prepared.campaign_event)
    );
    println!("What the bot sends appears below. Press Ctrl+C to stop.");
    lambda_demo::show_messages(&prepared.fakes, stop_requested()).await;
    Ok(())
}

/// Creates the panel user from ADMIN_PANEL_USER / ADMIN_PANEL_PASSWORD on first start.
async fn bootstrap_admin(app: &App) -> anyhow::Result<()> {
    let Some(password) = &app.settings.panel.password else {
        return Ok(());
    };
    let created = promo_core::admin::create_admin_user(
        &app.pool,
        app.bot_id,
        &app.settings.panel.user,
        password.expose_secret(),
        "owner",
        None,
        false,
    )
    .await?;
    if created {
        tracing::info!(login = %app.settings.panel.user, "bootstrap panel user created");
    }
    Ok(())
}

async fn set_webhook(drop_pending_updates: bool) -> anyhow::Result<()> {
    let settings = settings_with(&HashMap::new())?;
    let base = settings
        .webhook_base_url
        .clone()
        .context("WEBHOOK_BASE_URL is required to set the webhook")?;
    if settings.is_sandbox() {
        anyhow::bail!("BOT_TOKEN is required to set the webhook");
    }
    let app = App::build(settings).await?;
    let url = format!(
        "{}{}",
        base.trim_end_matches('/'),
        promo_core::bot::webhook::WEBHOOK_PATH
    );
    app.telegram
        .set_webhook(&promo_core::telegram::SetWebhook {
            url: url.clone(),
            secret_token: app
                .settings
                .telegram
                .webhook_secret
                .expose_secret()
                .to_owned(),
            allowed_updates: promo_core::telegram::types::ALLOWED_UPDATES.to_vec(),
            max_connections: 40,
            drop_pending_updates,
        })
        .await?;
    println!("webhook set to {url}");
    Ok(())
}

/// Prints what redoing draw `draw_id` found; `Ok(false)` when it does not match.
async fn verify_draw(draw_id: i64) -> anyhow::Result<bool> {
    let settings = settings_with(&HashMap::new())?;
    let pool = promo_core::db::connect(settings.store.database_url.expose_secret(), 2)?;
    let bot_id =
        promo_core::db::ensure_bot(&pool, &settings.store.bot_slug, &settings.promo.name).await?;
    let Some(check) = promo_core::raffle::verify_draw(&pool, bot_id, draw_id).await? else {
        anyhow::bail!("no draw {draw_id} for bot `{}`", settings.store.bot_slug);
    };
    println!("draw {draw_id}: {}", check.algorithm);
    println!("seed:            {}", check.seed_hex());
    println!(
        "commitment:      {}",
        check
            .seed_commitment
            .as_deref()
            .unwrap_or("(none: a v1 draw)")
    );
    println!(
        "snapshot hash:   {}",
        check
            .snapshot_hash
            .as_deref()
            .unwrap_or("(none: a v1 draw)")
    );
    println!("participants:    {}", check.participants());
    println!(
        "winners:         {} recorded, {} redone",
        check.recorded.len(),
        check.recomputed.len()
    );
    for problem in &check.problems {
        println!("MISMATCH: {problem}");
    }
    println!(
        "{}",
        if check.verified() {
            "verified: the draw is what its seed and snapshot give"
        } else {
            "NOT verified"
        }
    );
    Ok(check.verified())
}

async fn create_admin(login: &str, role: &str, telegram_id: Option<i64>) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let settings = settings_with(&HashMap::new())?;
    let pool = promo_core::db::connect(settings.store.database_url.expose_secret(), 2)?;
    let bot_id =
        promo_core::db::ensure_bot(&pool, &settings.store.bot_slug, &settings.promo.name).await?;
    promo_core::admin::create_admin_user(&pool, bot_id, login, password, role, telegram_id, true)
        .await?;
    println!("panel user `{login}` ({role}) is ready");
    Ok(())
}
