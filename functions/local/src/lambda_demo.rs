//! `promo lambda-demo`: real work for the Lambda functions under `cargo lambda watch`.
//!
//! Under the emulator a function is only as useful as the rows and services it finds: a
//! receipt job names a submission that must exist, a campaign job a campaign with
//! recipients, and both talk to Telegram (and the receipt to ProverkaCheka). This command
//! starts the sandbox's fakes for those two, creates a registered shopper, a typed-QR
//! receipt upload and a broadcast (without enqueueing them: the invocation is the queue),
//! writes a cargo-lambda env file and the two SQS events, and then shows what the bot
//! sends until it is stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use promo_core::app::{App, SANDBOX_BOT_TOKEN};
use promo_core::config::Settings;
use promo_core::pii::Phone;
use promo_core::users::TelegramProfile;
use promo_testkit::receipts::ReceiptBuilder;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::sandbox::Fakes;

/// The demo shopper's Telegram id: the sandbox page's default user.
const SHOPPER: i64 = 777_001;
const RECEIPT_TEMPLATE: &str =
    include_str!("../../../core/tests/fixtures/sqs_receipt_verify_event.json");
const CAMPAIGN_TEMPLATE: &str =
    include_str!("../../../core/tests/fixtures/sqs_campaign_run_event.json");

/// What the demo created and wrote; `main` prints it.
pub struct Prepared {
    pub fakes: Fakes,
    pub submission_id: i64,
    pub campaign_id: i64,
    pub env_file: PathBuf,
    pub receipt_event: PathBuf,
    pub campaign_event: PathBuf,
}

/// Starts the fakes, creates the rows and writes the files into `out`.
pub async fn prepare(
    settings_for: impl Fn(&HashMap<&'static str, String>) -> anyhow::Result<Settings>,
    out: &Path,
) -> anyhow::Result<Prepared> {
    let fakes = Fakes::start().await?;
    let mut overrides = fakes.setting_overrides();
    // The functions refuse to start without a bot token (only `promo serve` has a sandbox
    // mode); the fake answers the sandbox's, and a real token never lands in the file.
    overrides.insert("BOT_TOKEN", SANDBOX_BOT_TOKEN.to_owned());
    let settings = settings_for(&overrides)?;
    let pool = promo_core::db::connect(settings.store.database_url.expose_secret(), 2)?;
    promo_core::db::migrate(&pool).await?;
    let app = App::build(settings).await?;
    fakes.invent_receipts(&app.settings.promo.target_keywords);

    let user_id = registered_shopper(&app).await?;
    let submission_id = typed_receipt(&app, user_id).await?;
    let campaign_id = broadcast(&app).await?;

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let env_file = out.join("env");
    write_private(&env_file, &env_file_text(&overrides)?)?;
    let receipt_event = out.join("receipt-verify.json");
    let body = json!({ "kind": "verify", "submission_id": submission_id });
    write_private(&receipt_event, &event_with_body(RECEIPT_TEMPLATE, &body)?)?;
    let campaign_event = out.join("campaign-run.json");
    let body = json!({ "kind": "run", "campaign_id": campaign_id });
    write_private(&campaign_event, &event_with_body(CAMPAIGN_TEMPLATE, &body)?)?;
    Ok(Prepared {
        fakes,
        submission_id,
        campaign_id,
        env_file,
        receipt_event,
        campaign_event,
    })
}

/// Prints every message the bot sends through the fake Telegram until Ctrl+C or SIGTERM.
pub async fn show_messages(fakes: &Fakes, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut shown = 0;
    loop {
        for message in fakes.telegram.sent_messages().iter().skip(shown) {
            let first_line = message.text.lines().next().unwrap_or_default();
            println!("telegram → {}: {first_line}", message.chat_id);
            shown += 1;
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

async fn registered_shopper(app: &App) -> anyhow::Result<i64> {
    let profile = TelegramProfile {
        telegram_id: SHOPPER,
        username: None,
        first_name: "Ирина",
        last_name: None,
        language_code: Some("ru"),
    };
    // A fresh id: the claim is the upsert's guard, and this is not a Telegram update.
    let claim = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
        });
    let user = app
        .users
        .claim_and_touch(claim, &profile)
        .await?
        .context("the demo shopper could not be created")?;
    let phone = Phone::parse("+79031234567").context("the demo phone")?;
    app.users.set_full_name(user.id, "Ирина").await?;
    app.users
        .save_phone(user.id, &app.settings.phone_key.seal(&phone), true)
        .await?;
    Ok(user.id)
}

/// A receipt QR string as a shopper types it; a new one each time, so it is never a duplicate.
async fn typed_receipt(app: &App, user_id: i64) -> anyhow::Result<i64> {
    let product = app
        .settings
        .promo
        .target_keywords
        .first()
        .cloned()
        .unwrap_or_else(|| "чипсы".to_owned());
    let qr = ReceiptBuilder::new().item(&product, 15_990, 2).qr_text();
    let client = app.pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO receipt_submissions (bot_id, user_id, source, qr_raw)
             VALUES ($1, $2, 'qr_text', $3) RETURNING id",
            &[&app.bot_id, &user_id, &qr],
        )
        .await
        .context("creating the demo receipt upload")?;
    Ok(row.get(0))
}

async fn broadcast(app: &App) -> anyhow::Result<i64> {
    let client = app.pool.get().await?;
    let content = json!({ "text": "📣 Демо-рассылка из campaign-runner под cargo lambda" });
    let row = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience, created_via)
             VALUES ($1, 'broadcast', 'scheduled', $2, $3, 'system') RETURNING id",
            &[&app.bot_id, &content, &json!({ "all": true })],
        )
        .await
        .context("creating the demo broadcast")?;
    Ok(row.get(0))
}

/// Every setting this process runs with (the fakes' URLs included), one `NAME='value'`
/// per line: cargo-lambda's `--env-file` reads this, and so does a shell's `.`. Values are
/// quoted because its parser refuses a bare `=` inside a value (base64 keys end in one).
fn env_file_text(overrides: &HashMap<&'static str, String>) -> anyhow::Result<String> {
    let mut text =
        String::from("# Written by `promo lambda-demo`; holds secrets, keep it private.\n");
    for (name, _, _) in promo_core::config::VARIABLES {
        let value = overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok());
        let Some(value) = value else { continue };
        if value.contains('\'') || value.contains('\n') {
            anyhow::bail!("{name} holds a quote or a line break, which an env file cannot carry");
        }
        text.push_str(&format!("{name}='{value}'\n"));
    }
    Ok(text)
}

/// The repository's SQS event fixture with the job body replaced (and its checksum field
/// dropped, as it would no longer match).
fn event_with_body(template: &str, body: &Value) -> anyhow::Result<String> {
    let mut event: Value = serde_json::from_str(template).context("reading the event fixture")?;
    let record = event
        .pointer_mut("/Records/0")
        .and_then(Value::as_object_mut)
        .context("the event fixture has no record")?;
    record.insert("body".into(), Value::String(body.to_string()));
    record.remove("md5OfBody");
    Ok(serde_json::to_string_pretty(&event)? + "\n")
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_the_fixtures_envelope_and_carries_the_new_job() {
        let body = json!({ "kind": "verify", "submission_id": 42 });
        let event: Value =
            serde_json::from_str(&event_with_body(RECEIPT_TEMPLATE, &body).expect("event"))
                .expect("json");
        let record = &event["Records"][0];
        assert_eq!(record["body"], body.to_string());
        assert_eq!(record["eventSource"], "aws:sqs");
        assert!(record.get("md5OfBody").is_none());
    }

    #[test]
    fn env_file_values_are_quoted_so_padding_survives_cargo_lambda() {
        let overrides = HashMap::from([("PHONE_ENCRYPTION_KEY", "AAAA+/==".to_owned())]);
        let text = env_file_text(&overrides).expect("env file");
        assert!(text.contains("PHONE_ENCRYPTION_KEY='AAAA+/=='\n"), "{text}");
    }
}
