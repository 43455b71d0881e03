//! Who a campaign reaches: `campaigns.audience` parsed, and the one SQL condition that
//! both counts the recipients before sending and materialises them, so the number an
//! operator is shown is the number that gets the message.
//!
//! Nobody banned is ever a recipient, and nobody who blocked the bot (`reachable`
//! false), and never a test shopper of the panel's test chat (`is_test`). A broadcast
//! goes to registered shoppers; a single message to the listed ones.

use serde::{Deserialize, Serialize};

/// `campaigns.audience`. `{"all": true}` (the bot's broadcasts) is the default segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Exactly these shoppers (a single message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Only shoppers using the bot in this language (`ru`, `en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The bot's older spelling of "everyone"; kept readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// Shoppers by what they did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    All,
    /// At least one accepted receipt.
    WithReceipts,
    /// None accepted yet: the ones a reminder is for.
    WithoutReceipts,
}

impl Segment {
    fn as_param(self) -> Option<&'static str> {
        match self {
            Segment::All => None,
            Segment::WithReceipts => Some("with_receipts"),
            Segment::WithoutReceipts => Some("without_receipts"),
        }
    }
}

impl Audience {
    /// Checks what the operator may have got wrong; the message names the rule.
    pub fn validate(&self, kind: &str) -> Result<(), String> {
        if let Some(language) = &self.language {
            if !matches!(language.as_str(), "ru" | "en") {
                return Err("audience.language must be ru or en".into());
            }
        }
        match (&self.user_ids, kind) {
            (None, "single_message") => Err("a single message needs audience.user_ids".into()),
            (Some(ids), _) if ids.is_empty() || ids.len() > 10_000 => {
                Err("audience.user_ids must list 1 to 10000 shoppers".into())
            }
            _ => Ok(()),
        }
    }

    /// The statement parameters of [`recipients_condition`], after the bot id: user ids,
    /// registered only, language, segment.
    pub fn params(
        &self,
        kind: &str,
    ) -> (Option<Vec<i64>>, bool, Option<String>, Option<&'static str>) {
        (
            self.user_ids.clone(),
            kind == "broadcast",
            self.language.clone(),
            self.segment.and_then(Segment::as_param),
        )
    }
}

/// The condition on `users u` for a campaign's recipients, with the bot id at
/// `$first` and [`Audience::params`] at the four positions after it.
pub fn recipients_condition(first: usize) -> String {
    let (bot, ids, registered, language, segment) =
        (first, first + 1, first + 2, first + 3, first + 4);
    format!(
        "u.bot_id = ${bot} AND u.reachable AND u.status <> 'banned' AND NOT u.is_test
         AND (${ids}::BIGINT[] IS NULL OR u.id = ANY(${ids}))
         AND (NOT ${registered}::BOOL OR u.status = 'registered')
         AND (${language}::TEXT IS NULL OR u.language = ${language})
         AND (${segment}::TEXT IS NULL
              OR (${segment} = 'with_receipts') = EXISTS (
                  SELECT 1 FROM receipts r
                  WHERE r.bot_id = u.bot_id AND r.user_id = u.id AND r.status = 'accepted'))"
    )
}

/// How many shoppers a campaign of `kind` with `audience` would reach now.
pub async fn count_recipients(
    client: &impl deadpool_postgres::GenericClient,
    bot_id: i64,
    kind: &str,
    audience: &Audience,
) -> anyhow::Result<i64> {
    let (ids, registered, language, segment) = audience.params(kind);
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) FROM users u WHERE {}",
                recipients_condition(1)
            ),
            &[&bot_id, &ids, &registered, &language, &segment],
        )
        .await?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bots_everyone_and_the_panels_segments_both_parse() {
        let legacy: Audience =
            serde_json::from_value(serde_json::json!({"all": true})).unwrap_or_default();
        assert_eq!(legacy.params("broadcast"), (None, true, None, None));
        let panel: Audience = serde_json::from_value(
            serde_json::json!({"segment": "without_receipts", "language": "en"}),
        )
        .unwrap_or_default();
        assert_eq!(
            panel.params("broadcast"),
            (None, true, Some("en".into()), Some("without_receipts"))
        );
    }

    #[test]
    fn an_audience_names_what_is_wrong_with_it() {
        let single = Audience::default();
        assert!(single.validate("single_message").is_err());
        assert!(single.validate("broadcast").is_ok());
        let klingon = Audience {
            language: Some("tlh".into()),
            ..Audience::default()
        };
        assert!(klingon.validate("broadcast").is_err());
        let nobody = Audience {
            user_ids: Some(Vec::new()),
            ..Audience::default()
        };
        assert!(nobody.validate("single_message").is_err());
    }
}
