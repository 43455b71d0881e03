//! A broadcast run by a real `promo serve` process that is killed with SIGKILL again and
//! again: what the crash-loop test and `crash-bench` both drive, measured at the fake
//! Bot API (copies per chat), in the campaign row (counters) and by the clock (how long
//! each restart took to send again).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::telegram::FakeTelegram;

/// The broadcast's text, so its copies are told apart from anything else the bot sends.
pub const TEXT: &str = "Финал акции: розыгрыш iPhone сегодня в 20:00";
const FIRST_CHAT: i64 = 7_000_000_001;

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashLoop {
    /// The `promo` binary.
    pub promo: PathBuf,
    pub recipients: i64,
    pub kills: usize,
    /// `BROADCAST_RATE`, messages per second.
    pub rate: u32,
    /// Bot API latency of the fake, so sends are on the wire at every moment.
    pub latency: Duration,
    /// Seeds the random kill points (printed, so a run can be repeated).
    pub seed: u64,
    /// Longest wait for the process to send again after a restart, and for the end.
    pub patience: Duration,
}

/// One kill and the restart after it.
#[derive(Debug, Clone)]
pub struct Kill {
    /// Broadcast copies the fake had received when the process was killed.
    pub arrived_before: usize,
    /// Deliveries in `sending` right after the kill: claimed by the dead runner, an upper
    /// bound on its messages in flight.
    pub in_flight: i64,
    /// From spawning the new process to the first new copy arriving at the fake.
    pub resumed_after: Duration,
}

/// What the run did, measured at the far end.
#[derive(Debug, Clone)]
pub struct Report {
    pub recipients: i64,
    pub kills: Vec<Kill>,
    /// Recipients the fake never delivered a copy to.
    pub lost: usize,
    /// Copies beyond the first, over all recipients.
    pub duplicates: usize,
    /// Successful copies at the fake, and the recipients they reached.
    pub arrived: usize,
    pub reached: usize,
    /// Deliveries `unknown` at the end, and those of them the fake did deliver.
    pub unknown: i64,
    pub unknown_arrived: usize,
    /// Recipients that got nothing while their row is not `unknown` (should be none).
    pub lost_not_unknown: usize,
    /// The campaign row at the end.
    pub status: String,
    pub counter_sent: i32,
    pub counter_unknown: i32,
    pub took: Duration,
}

impl Report {
    pub fn in_flight_at_kills(&self) -> i64 {
        self.kills.iter().map(|k| k.in_flight).sum()
    }

    /// `(p50, max)` of the resume times.
    pub fn resume_p50_max(&self) -> (Duration, Duration) {
        let mut times: Vec<Duration> = self.kills.iter().map(|k| k.resumed_after).collect();
        times.sort();
        let p50 = times.get(times.len() / 2).copied().unwrap_or_default();
        (p50, times.last().copied().unwrap_or_default())
    }
}

struct Served {
    child: Child,
}

impl Served {
    fn spawn(promo: &PathBuf, env: &HashMap<String, String>) -> anyhow::Result<Self> {
        let mut child = Command::new(promo)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting promo serve")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        // Read the banner, then keep draining so a full pipe never blocks the process.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Press Ctrl+C") {
                    let _ = ready_tx.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .context("promo serve did not start within 60 s")?;
        Ok(Served { child })
    }

    /// SIGKILL: nothing is flushed, handed back or unregistered.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Successful broadcast copies at the fake: per chat, and the arrival times.
fn copies(telegram: &FakeTelegram) -> (HashMap<i64, usize>, Vec<Instant>) {
    let mut per_chat = HashMap::new();
    let mut times = Vec::new();
    for call in telegram.calls_to("sendMessage") {
        if call.status == 200 && call.params.get("text").and_then(|t| t.as_str()) == Some(TEXT) {
            if let Some(chat) = call.params.get("chat_id").and_then(|c| c.as_i64()) {
                *per_chat.entry(chat).or_insert(0) += 1;
                times.push(call.at);
            }
        }
    }
    (per_chat, times)
}

/// Runs the loop: starts `promo serve` on a database of its own, inserts the recipients
/// and a due broadcast, kills the process at random points while it sends, restarts it
/// each time and waits for the broadcast to complete.
pub async fn run(config: &CrashLoop) -> anyhow::Result<Report> {
    let started = Instant::now();
    let telegram = FakeTelegram::start().await?;
    telegram.set_latency(config.latency);
    let database_url = crate::db::migrated_database().await?;
    let slug = format!("crash{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let env: HashMap<String, String> = [
        ("BOT_SLUG", slug.clone()),
        ("BOT_TOKEN", crate::app::TEST_BOT_TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram.base_url()),
        ("DATABASE_URL", database_url.clone()),
        ("REDIS_URL", crate::app::redis_url()),
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("WEBHOOK_SECRET", "crash-loop-secret".to_owned()),
        (
            "ADMIN_SECRET_KEY",
            "crash-loop-admin-secret-key-0123456789".to_owned(),
        ),
        (
            "PHONE_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        ),
        (
            "PRIZE_DATA_KEY",
            base64::engine::general_purpose::STANDARD.encode([17u8; 32]),
        ),
        ("BROADCAST_RATE", config.rate.to_string()),
        ("PAID_BROADCAST", (config.rate > 30).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let mut served = Served::spawn(&config.promo, &env)?;
    let pool = promo_core::db::connect(&database_url, 2)?;
    let client = pool.get().await?;
    let bot_id: i64 = client
        .query_one("SELECT id FROM bots WHERE slug = $1", &[&slug])
        .await
        .context("the bot row promo serve created")?
        .get(0);
    client
        .execute(
            "INSERT INTO users (bot_id, telegram_id, status, reachable, registered_at)
             SELECT $1, g, 'registered', TRUE, now()
             FROM generate_series($2::bigint, $3::bigint) g",
            &[&bot_id, &FIRST_CHAT, &(FIRST_CHAT + config.recipients - 1)],
        )
        .await?;
    let campaign_id: i64 = client
        .query_one(
            "INSERT INTO campaigns (bot_id, kind, status, content, audience)
             VALUES ($1, 'broadcast', 'scheduled', $2, '{\"all\": true}') RETURNING id",
            &[&bot_id, &json!({ "text": TEXT })],
        )
        .await?
        .get(0);

    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let total = config.recipients as usize;
    let mut kills = Vec::new();
    for k in 1..=config.kills {
        // Spread the kills over the broadcast, each at a random point of its share.
        let share = total / (config.kills + 1);
        let target = share * k + rng.gen_range(0..share.max(1) / 2 + 1);
        telegram
            .wait_for_calls("sendMessage", target.min(total), config.patience)
            .await
            .with_context(|| format!("kill {k}: the broadcast did not reach {target} sends"))?;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..50))).await;
        served.kill();
        let arrived_before = copies(&telegram).1.len();
        let in_flight: i64 = client
            .query_one(
                "SELECT count(*) FROM campaign_deliveries
                 WHERE campaign_id = $1 AND status = 'sending'",
                &[&campaign_id],
            )
            .await?
            .get(0);
        let restarted = Instant::now();
        served = Served::spawn(&config.promo, &env)?;
        let resumed_after = loop {
            let (_, times) = copies(&telegram);
            if let Some(first) = times.iter().filter(|at| **at > restarted).min() {
                break first.duration_since(restarted);
            }
            if restarted.elapsed() > config.patience {
                bail!(
                    "kill {k}: nothing sent within {:?} of the restart",
                    config.patience
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        kills.push(Kill {
            arrived_before,
            in_flight,
            resumed_after,
        });
    }

    let until = Instant::now() + config.patience * 3;
    let status = loop {
        let status: String = client
            .query_one(
                "SELECT status FROM campaigns WHERE id = $1",
                &[&campaign_id],
            )
            .await?
            .get(0);
        if status == "completed" || Instant::now() > until {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // A late duplicate (a second runner, a redelivered job) would land within moments.
    tokio::time::sleep(Duration::from_millis(500)).await;
    served.kill();

    let (per_chat, times) = copies(&telegram);
    let rows: HashMap<i64, String> = client
        .query(
            "SELECT chat_id, status FROM campaign_deliveries WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let counters = client
        .query_one(
            "SELECT sent, unknown FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await?;
    let recipients = FIRST_CHAT..FIRST_CHAT + config.recipients;
    let lost_chats: Vec<i64> = recipients
        .clone()
        .filter(|chat| !per_chat.contains_key(chat))
        .collect();
    let unknown_chats: Vec<i64> = rows
        .iter()
        .filter(|(_, status)| *status == "unknown")
        .map(|(chat, _)| *chat)
        .collect();
    Ok(Report {
        recipients: config.recipients,
        lost: lost_chats.len(),
        lost_not_unknown: lost_chats
            .iter()
            .filter(|chat| rows.get(chat).map(String::as_str) != Some("unknown"))
            .count(),
        duplicates: per_chat.values().map(|n| n.saturating_sub(1)).sum(),
        arrived: times.len(),
        reached: per_chat.len(),
        unknown: unknown_chats.len() as i64,
        unknown_arrived: unknown_chats
            .iter()
            .filter(|chat| per_chat.contains_key(chat))
            .count(),
        kills,
        status,
        counter_sent: counters.get(0),
        counter_unknown: counters.get(1),
        took: started.elapsed(),
    })
}
