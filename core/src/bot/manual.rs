//! Entering a receipt by hand when its QR cannot be read: the shopper types the fields
//! printed under the code (ФН, ФД, ФП, date and time, total) one question at a time.
//! Each answer is checked as the QR's field would be (domain spec 2), and the whole is
//! turned into the QR text it stands for, so the upload then takes exactly the path of a
//! typed QR string: the promo window and limits, duplicate and period checks, and one
//! paid check at most.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::receipts::FiscalQr;
use crate::t;
use crate::telegram::OutgoingMessage;
use crate::texts::TextKey;

use super::dialogue::DialogueState;
use super::Conversation;

/// `callback_data` of the "enter by hand" button under an unreadable-picture verdict.
pub const START: &str = crate::receipts::MANUAL_ENTRY_CALLBACK;

/// The question the shopper is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualStep {
    FiscalDrive,
    Document,
    Sign,
    Time,
    Sum,
}

/// The answers so far, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualFields {
    #[serde(default)]
    pub fiscal_drive: Option<String>,
    #[serde(default)]
    pub document: Option<u32>,
    #[serde(default)]
    pub sign: Option<u32>,
    /// `YYYYMMDDTHHMM`, as the QR's `t`.
    #[serde(default)]
    pub time: Option<String>,
}

impl ManualStep {
    fn question(self) -> TextKey {
        match self {
            ManualStep::FiscalDrive => t!("manual_ask_fn"),
            ManualStep::Document => t!("manual_ask_fd"),
            ManualStep::Sign => t!("manual_ask_fp"),
            ManualStep::Time => t!("manual_ask_time"),
            ManualStep::Sum => t!("manual_ask_sum"),
        }
    }

    fn refusal(self) -> TextKey {
        match self {
            ManualStep::FiscalDrive => t!("manual_bad_fn"),
            ManualStep::Document => t!("manual_bad_fd"),
            ManualStep::Sign => t!("manual_bad_fp"),
            ManualStep::Time => t!("manual_bad_time"),
            ManualStep::Sum => t!("manual_bad_sum"),
        }
    }
}

/// The first question; from the upload prompt's button or the unreadable-picture verdict.
pub(crate) async fn start(conversation: &Conversation<'_>) -> anyhow::Result<Vec<OutgoingMessage>> {
    if let Some(refusal) = super::upload::refusal_before_upload(conversation).await? {
        return Ok(refusal);
    }
    ask(
        conversation,
        ManualStep::FiscalDrive,
        ManualFields::default(),
        None,
    )
    .await
}

/// One answer: kept and the next question asked, or refused with what is expected.
pub(crate) async fn receive(
    conversation: &Conversation<'_>,
    step: ManualStep,
    mut fields: ManualFields,
    text: &str,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let state = DialogueState::ManualReceipt {
        step,
        fields: fields.clone(),
    };
    let Some(next) = accept(step, &mut fields, text) else {
        return ask(conversation, step, fields, Some(step.refusal())).await;
    };
    let Some(next) = next else {
        // The total was the last answer: the QR text the fields stand for.
        let Some(qr) = qr_of(&fields, text) else {
            return ask(conversation, step, fields, Some(step.refusal())).await;
        };
        return super::upload::submit_manual(conversation, &state, &qr.canonical()).await;
    };
    ask(conversation, next, fields, None).await
}

/// Anything but text while a field is asked for: the question again.
pub(crate) async fn repeat(
    conversation: &Conversation<'_>,
    step: ManualStep,
    fields: ManualFields,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    ask(conversation, step, fields, None).await
}

async fn ask(
    conversation: &Conversation<'_>,
    step: ManualStep,
    fields: ManualFields,
    refusal: Option<TextKey>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    conversation
        .set_state(&DialogueState::ManualReceipt { step, fields })
        .await?;
    let mut text = conversation.text(step.question()).await;
    if let Some(refusal) = refusal {
        text = format!("{}\n\n{text}", conversation.text(refusal).await);
    }
    Ok(vec![conversation.with_cancel_keyboard(text).await])
}

/// Stores a valid answer and says what comes next: `Some(Some(step))` the next question,
/// `Some(None)` done (the total, which is not stored), `None` refused.
fn accept(step: ManualStep, fields: &mut ManualFields, text: &str) -> Option<Option<ManualStep>> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let number = || -> Option<u32> {
        (!digits.is_empty() && digits.len() <= 10 && digits.chars().all(|c| c.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    Some(match step {
        ManualStep::FiscalDrive => {
            if digits.len() != 16 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            fields.fiscal_drive = Some(digits);
            Some(ManualStep::Document)
        }
        ManualStep::Document => {
            fields.document = Some(number()?);
            Some(ManualStep::Sign)
        }
        ManualStep::Sign => {
            fields.sign = Some(number()?);
            Some(ManualStep::Time)
        }
        ManualStep::Time => {
            fields.time = Some(parse_time(text)?.format("%Y%m%dT%H%M").to_string());
            Some(ManualStep::Sum)
        }
        ManualStep::Sum => {
            parse_sum(text)?;
            None
        }
    })
}

/// The date and time as receipts print them: `17.09.2024 18:01`, `17.09.24 18:01`, or
/// `2024-09-17 18:01`; seconds are dropped (the tax service matches to the minute).
fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.replace(',', " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // `%Y` takes "24" as the year 24, so a two-digit year gets `%y` and nothing else.
    let short_year = text
        .split(' ')
        .next()
        .is_some_and(|date| date.len() == 8 && date.matches('.').count() == 2);
    let formats: &[&str] = if short_year {
        &["%d.%m.%y %H:%M", "%d.%m.%y %H:%M:%S"]
    } else {
        &[
            "%d.%m.%Y %H:%M",
            "%Y-%m-%d %H:%M",
            "%d.%m.%Y %H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
        ]
    };
    formats
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&text, format).ok())
}

/// The total in roubles as `s` carries it (`1234.56`), from `1 234,56`, `1234.5`, `1234`
/// or with a trailing `₽`/`руб`.
fn parse_sum(text: &str) -> Option<String> {
    let cleaned: String = text
        .trim()
        .trim_end_matches('₽')
        .trim_end_matches("руб.")
        .trim_end_matches("руб")
        .trim_end_matches('р')
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    let valid = !whole.is_empty()
        && whole.len() <= 9
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.len() <= 2
        && fraction.chars().all(|c| c.is_ascii_digit());
    let sum = valid.then(|| {
        if fraction.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{fraction}")
        }
    })?;
    (sum.parse::<f64>().ok()? > 0.0).then_some(sum)
}

/// The QR a complete set of answers stands for (`total` being the last one).
fn qr_of(fields: &ManualFields, total: &str) -> Option<FiscalQr> {
    let at = NaiveDateTime::parse_from_str(fields.time.as_deref()?, "%Y%m%dT%H%M").ok()?;
    FiscalQr::from_printed(
        fields.fiscal_drive.as_deref()?,
        &fields.document?.to_string(),
        &fields.sign?.to_string(),
        at,
        &parse_sum(total)?,
    )
    .ok()
}

/// The upload prompt's keyboard: enter by hand, or cancel.
pub(crate) async fn upload_keyboard(
    conversation: &Conversation<'_>,
    text: String,
) -> OutgoingMessage {
    conversation
        .with_buttons(text, &[t!("btn_manual_entry"), t!("btn_cancel")])
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn printed_dates_and_totals_are_read_in_the_spellings_receipts_use() {
        let at = |s: &str| parse_time(s).map(|t| t.format("%Y%m%dT%H%M").to_string());
        assert_eq!(at("17.09.2024 18:01").as_deref(), Some("20240917T1801"));
        assert_eq!(at(" 17.09.24  18:01 ").as_deref(), Some("20240917T1801"));
        assert_eq!(at("2024-09-17 18:01:59").as_deref(), Some("20240917T1801"));
        assert_eq!(at("17.09.2024, 18:01").as_deref(), Some("20240917T1801"));
        assert_eq!(at("31.02.2024 18:01"), None);
        assert_eq!(at("вчера"), None);
        assert_eq!(parse_sum("1 234,56").as_deref(), Some("1234.56"));
        assert_eq!(parse_sum("259.9 ₽").as_deref(), Some("259.9"));
        assert_eq!(parse_sum("300 руб").as_deref(), Some("300"));
        assert_eq!(parse_sum("0"), None);
        assert_eq!(parse_sum("-5"), None);
        assert_eq!(parse_sum("12.345"), None);
        assert_eq!(parse_sum("1e3"), None);
    }

    #[test]
    fn five_valid_answers_make_the_qr_text_they_stand_for() {
        let mut fields = ManualFields::default();
        let mut step = ManualStep::FiscalDrive;
        for answer in [
            "9999 0789 0001 2345",
            "12345",
            "1234567890",
            "15.01.2024 12:30",
        ] {
            step = accept(step, &mut fields, answer)
                .flatten()
                .expect("accepted");
        }
        assert_eq!(step, ManualStep::Sum);
        assert_eq!(accept(step, &mut fields, "1285,21"), Some(None));
        let qr = qr_of(&fields, "1285,21").expect("complete");
        assert_eq!(
            Some(qr.canonical()).as_deref(),
            Some("t=20240115T1230&s=1285.21&fn=9999078900012345&i=12345&fp=1234567890&n=1")
        );
        let mut fields = ManualFields::default();
        assert_eq!(accept(ManualStep::FiscalDrive, &mut fields, "123"), None);
        assert_eq!(
            accept(ManualStep::Document, &mut fields, "99999999999"),
            None
        );
        assert_eq!(accept(ManualStep::Sign, &mut fields, "4294967296"), None);
        assert_eq!(
            fields,
            ManualFields::default(),
            "a refused answer keeps nothing"
        );
    }

    proptest! {
        /// Whatever is typed, an answer is refused or kept, never a panic, and what is
        /// kept always makes a QR the parser takes.
        #[test]
        fn any_typed_answer_is_refused_or_makes_a_valid_qr(
            answers in prop::collection::vec("\\PC{0,30}|[0-9 .,:-]{0,20}", 5)
        ) {
            let mut fields = ManualFields::default();
            let mut step = Some(ManualStep::FiscalDrive);
            for answer in &answers {
                let Some(current) = step else { break };
                match accept(current, &mut fields, answer) {
                    None => {}
                    Some(Some(next)) => step = Some(next),
                    Some(None) => {
                        prop_assert!(qr_of(&fields, answer).is_some(), "{fields:?} {answer:?}");
                        step = None;
                    }
                }
            }
        }
    }
}
