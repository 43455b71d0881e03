//! Fraud signals of an accepted receipt: stored with it (`receipts.fraud_signals`) for
//! the panel, and one of them holds the receipt for moderation instead of earning tickets.
//!
//! The thresholds are part of the promotion's settings ([`crate::promo`]), so operators
//! tune them in the panel without a deploy.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};

pub use crate::config::FraudThresholds;

/// One reason to look at a receipt twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FraudSignal {
    /// The seller already had `accepted` receipts on the sale day, at or over the limit.
    SellerDailyLimit {
        seller_inn: String,
        day: NaiveDate,
        accepted: i64,
        limit: i64,
    },
    /// The shopper uploaded `uploads` receipts within the window.
    UploadBurst { uploads: i64, window_minutes: i64 },
    /// The shopper's phone is registered on `accounts` accounts of this bot.
    SharedPhone { accounts: i64 },
}

impl FraudSignal {
    /// Only a seller over its daily limit holds the receipt: bursts and shared phones
    /// have innocent explanations (a family, a shopping day) and are shown, not acted on.
    pub fn holds_for_review(&self) -> bool {
        matches!(self, FraudSignal::SellerDailyLimit { .. })
    }
}

/// The signals of a receipt about to be stored, read inside the storing transaction.
///
/// The seller check takes a transaction-scoped advisory lock per seller, so two
/// receipts of one shop accepted at the same moment cannot both slip under the limit.
pub async fn assess(
    tx: &impl GenericClient,
    bot_id: i64,
    user_id: i64,
    seller_inn: Option<&str>,
    sale_day: NaiveDate,
    thresholds: &FraudThresholds,
) -> anyhow::Result<Vec<FraudSignal>> {
    let mut signals = Vec::new();

    if let Some(inn) = seller_inn.filter(|inn| !inn.is_empty()) {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('receipt-seller:' || $2, $1))",
            &[&bot_id, &inn],
        )
        .await?;
        let (from, until) = day_bounds(sale_day);
        let accepted: i64 = tx
            .query_one(
                "SELECT count(*) FROM receipts
                 WHERE bot_id = $1 AND seller_inn = $2 AND status = 'accepted'
                   AND receipt_at >= $3 AND receipt_at < $4",
                &[&bot_id, &inn, &from, &until],
            )
            .await?
            .get(0);
        if accepted >= thresholds.seller_daily_limit {
            signals.push(FraudSignal::SellerDailyLimit {
                seller_inn: inn.to_owned(),
                day: sale_day,
                accepted,
                limit: thresholds.seller_daily_limit,
            });
        }
    }

    let uploads: i64 = tx
        .query_one(
            "SELECT count(*) FROM receipt_submissions
             WHERE bot_id = $1 AND user_id = $2
               AND created_at > now() - make_interval(mins => $3::int)",
            &[
                &bot_id,
                &user_id,
                &i32::try_from(thresholds.burst_window_minutes).unwrap_or(i32::MAX),
            ],
        )
        .await?
        .get(0);
    if uploads > thresholds.burst_uploads {
        signals.push(FraudSignal::UploadBurst {
            uploads,
            window_minutes: thresholds.burst_window_minutes,
        });
    }

    let others: i64 = tx
        .query_one(
            "SELECT count(*) FROM users other JOIN users me
                 ON other.bot_id = me.bot_id AND other.phone_hash = me.phone_hash
             WHERE me.id = $2 AND me.bot_id = $1 AND other.id <> me.id",
            &[&bot_id, &user_id],
        )
        .await?
        .get(0);
    if others > 0 {
        signals.push(FraudSignal::SharedPhone {
            accounts: others + 1,
        });
    }
    Ok(signals)
}

/// `[day 00:00, next day 00:00)` as naive local times, like `receipts.receipt_at`.
fn day_bounds(day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let from = day.and_time(NaiveTime::MIN);
    let until = day
        .succ_opt()
        .map_or(NaiveDateTime::MAX, |next| next.and_time(NaiveTime::MIN));
    (from, until)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn signals_are_stored_as_tagged_json() {
        let signal = FraudSignal::SellerDailyLimit {
            seller_inn: "7825706086".into(),
            day: NaiveDate::from_ymd_opt(2024, 9, 17).unwrap_or_default(),
            accepted: 5,
            limit: 5,
        };
        assert_eq!(
            serde_json::to_value(&signal).ok(),
            Some(json!({
                "kind": "seller_daily_limit", "seller_inn": "7825706086",
                "day": "2024-09-17", "accepted": 5, "limit": 5,
            }))
        );
        assert!(signal.holds_for_review());
        assert!(!FraudSignal::SharedPhone { accounts: 2 }.holds_for_review());
        assert!(!FraudSignal::UploadBurst {
            uploads: 9,
            window_minutes: 10
        }
        .holds_for_review());
    }

    #[test]
    fn a_day_spans_midnight_to_midnight() {
        let day = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default();
        let (from, until) = day_bounds(day);
        assert_eq!(from.to_string(), "2024-12-31 00:00:00");
        assert_eq!(until.to_string(), "2025-01-01 00:00:00");
    }
}
