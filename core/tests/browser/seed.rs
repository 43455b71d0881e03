//! Rows more than one browser test seeds the same way.

use promo_testkit::TestApp;

/// Grants `amount` tickets to `user_id` by hand (source `manual`).
pub async fn give_tickets(app: &TestApp, user_id: i64, amount: i32) {
    app.db()
        .await
        .expect("db")
        .execute(
            "INSERT INTO tickets (bot_id, user_id, amount, source, reason)
             VALUES ($1, $2, $3, 'manual', 'seed')",
            &[&app.app.bot_id, &user_id, &amount],
        )
        .await
        .expect("tickets");
}
