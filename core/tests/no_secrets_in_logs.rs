//! Invariant 7: no secret and no full phone number appears in the logs, even at debug
//! level, across registration, forged webhook calls and errors.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promo_testkit::app::{TEST_BOT_TOKEN, TEST_PROVERKA_TOKEN, TEST_WEBHOOK_SECRET};
use promo_testkit::spawn_app;
use promo_testkit::telegram::Updates;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_never_contain_secrets_or_full_phone_numbers() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();

    let app = spawn_app().await.expect("app");
    let user = 4242;
    for text in ["/start", "Иван"] {
        app.send_update(&Updates::text(user, text))
            .await
            .expect("delivered");
    }
    app.send_update(&Updates::contact(user, "+79991234567", Some(user)))
        .await
        .expect("delivered");
    // Someone else's contact, a typed phone from another user, a forged call.
    app.send_update(&Updates::text(4343, "/start"))
        .await
        .expect("delivered");
    app.send_update(&Updates::text(4343, "Пётр"))
        .await
        .expect("delivered");
    app.send_update(&Updates::text(4343, "8 (916) 555-44-33"))
        .await
        .expect("delivered");
    app.post_update_with_secret(&Updates::text(1, "/start"), Some("forged"))
        .await
        .expect("posted");
    app.telegram
        .wait_for_calls("sendMessage", 6, Duration::from_secs(5))
        .await
        .expect("replies");
    tracing::debug!(settings = ?app.app.settings, "settings at debug level");

    let logs = String::from_utf8_lossy(&captured.0.lock().map(|b| b.clone()).unwrap_or_default())
        .into_owned();
    assert!(logs.contains("shopper registered"), "the capture works");
    for secret in [
        "79991234567",
        "9991234567",
        "79165554433",
        "9165554433",
        TEST_BOT_TOKEN,
        "test-token",
        TEST_WEBHOOK_SECRET,
        TEST_PROVERKA_TOKEN,
        "test-admin-secret-key",
    ] {
        assert!(!logs.contains(secret), "`{secret}` leaked into the logs");
    }
}
