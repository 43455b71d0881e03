//! A winner claims the prize in the bot: confirm, consent to the processing of personal
//! data, and, for a prize above 4,000 ₽, the tax agent's documents (full name, passport,
//! INN, address) one question at a time; or decline, which hands the prize to the next
//! reserve.
//!
//! The buttons' data comes from the client and can be forged: every step acts only on a
//! winner row of this bot that belongs to the tapping shopper and is in the status the
//! step expects, in one UPDATE that checks both; anything else is answered "no longer
//! available" and changes nothing. Answers typed so far are kept sealed in the dialogue
//! state (the documents key, bound to the winner row), never in clear text.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::campaigns::claims::{self, Ending, CONFIRM, CONSENT, DECLINE, DECLINE_CONFIRMED};
use crate::campaigns::raffle_spec::DOCUMENTS_ABOVE_RUB;
use crate::t;
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, OutgoingMessage, SendMessage};
use crate::texts::TextKey;

use super::callbacks::remove_inline_keyboard;
use super::dialogue::DialogueState;
use super::Conversation;

/// A claim button's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Confirm,
    Decline,
    Consent,
    DeclineConfirmed,
}

impl Action {
    /// The middle part of `claim:<action>:<winner id>`.
    pub fn parse(action: &str) -> Option<Action> {
        match action {
            "ok" => Some(Action::Confirm),
            "no" => Some(Action::Decline),
            "consent" => Some(Action::Consent),
            "decline" => Some(Action::DeclineConfirmed),
            _ => None,
        }
    }
}

/// The documents question being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStep {
    FullName,
    Passport,
    Inn,
    Address,
}

impl DocumentStep {
    fn question(self) -> TextKey {
        match self {
            DocumentStep::FullName => t!("claim_ask_full_name"),
            DocumentStep::Passport => t!("claim_ask_passport"),
            DocumentStep::Inn => t!("claim_ask_inn"),
            DocumentStep::Address => t!("claim_ask_address"),
        }
    }

    fn refusal(self) -> TextKey {
        match self {
            DocumentStep::FullName => t!("claim_bad_full_name"),
            DocumentStep::Passport => t!("claim_bad_passport"),
            DocumentStep::Inn => t!("claim_bad_inn"),
            DocumentStep::Address => t!("claim_bad_address"),
        }
    }
}

/// The documents as sealed into `raffle_winners.documents` (and, partly filled, into the
/// dialogue state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documents {
    #[serde(default)]
    pub full_name: Option<String>,
    /// `4510 123456`.
    #[serde(default)]
    pub passport: Option<String>,
    #[serde(default)]
    pub inn: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// A tap on one of the claim's buttons under the bot's message `message_id`.
pub(crate) async fn tap(
    conversation: &Conversation<'_>,
    action: Action,
    winner_id: i64,
    message_id: i64,
    answer: impl Fn(Option<String>) -> OutgoingMessage,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let Some(winner) = own_winner(conversation, winner_id).await? else {
        return unavailable(conversation, answer).await;
    };
    let done = match action {
        Action::Confirm => confirm(conversation, &winner).await?,
        Action::Decline => decline_question(conversation, &winner).await?,
        Action::Consent => consent(conversation, &winner).await?,
        Action::DeclineConfirmed => decline(conversation, &winner).await?,
    };
    let Some(replies) = done else {
        return unavailable(conversation, answer).await;
    };
    let mut calls = vec![answer(None)];
    // The consent button stays: tapping it again resumes the documents dialogue, the
    // winner's way back after leaving it (a menu button, Cancel) before the deadline.
    if action != Action::Consent {
        calls.push(remove_inline_keyboard(conversation.chat_id, message_id));
    }
    calls.extend(replies);
    Ok(calls)
}

async fn unavailable(
    conversation: &Conversation<'_>,
    answer: impl Fn(Option<String>) -> OutgoingMessage,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    Ok(vec![answer(Some(
        conversation.text(t!("claim_unavailable")).await,
    ))])
}

/// A winner row of the tapping shopper, with what the claim's steps need.
struct Winner {
    id: i64,
    status: String,
    prize: String,
}

async fn own_winner(
    conversation: &Conversation<'_>,
    winner_id: i64,
) -> anyhow::Result<Option<Winner>> {
    let client = conversation.app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT w.claim_status, COALESCE(p.name, d.prize)
             FROM raffle_winners w
             JOIN raffle_draws d ON d.id = w.draw_id
             LEFT JOIN raffle_prizes p ON p.id = w.prize_id
             WHERE w.id = $1 AND w.bot_id = $2 AND w.user_id = $3",
            &[&winner_id, &conversation.app.bot_id, &conversation.user.id],
        )
        .await?;
    Ok(row.map(|row| Winner {
        id: winner_id,
        status: row.get(0),
        prize: row.get(1),
    }))
}

/// "Confirm receipt": noted, and the consent is asked for.
async fn confirm(
    conversation: &Conversation<'_>,
    winner: &Winner,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    let client = conversation.app.pool.get().await?;
    let confirmed = client
        .execute(
            "UPDATE raffle_winners SET confirmed_at = COALESCE(confirmed_at, now())
             WHERE id = $1 AND bot_id = $2 AND user_id = $3 AND claim_status = 'notified'
               AND (claim_deadline IS NULL OR claim_deadline > now())",
            &[&winner.id, &conversation.app.bot_id, &conversation.user.id],
        )
        .await?;
    if confirmed == 0 {
        return Ok(None);
    }
    let text = conversation
        .render(t!("claim_consent"), &[("prize", &winner.prize)])
        .await;
    let keyboard = InlineKeyboardMarkup::from(vec![
        vec![InlineKeyboardButton::callback(
            conversation.text(t!("btn_claim_consent")).await,
            format!("{CONSENT}{}", winner.id),
        )],
        vec![InlineKeyboardButton::callback(
            conversation.text(t!("btn_claim_decline")).await,
            format!("{DECLINE}{}", winner.id),
        )],
    ]);
    Ok(Some(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(keyboard),
    )]))
}

/// The consent: a prize that needs no documents is confirmed; one above 4,000 ₽ starts
/// the documents dialogue (the claim stays `notified`, its deadline running, until they
/// are in: the organiser may not hand it over before).
async fn consent(
    conversation: &Conversation<'_>,
    winner: &Winner,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    let client = conversation.app.pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE raffle_winners w
             SET consent_at = now(),
                 claim_status = CASE
                     WHEN COALESCE((SELECT p.value_rub FROM raffle_prizes p
                                    WHERE p.id = w.prize_id), 0) > $4
                     THEN w.claim_status ELSE 'confirmed' END
             WHERE w.id = $1 AND w.bot_id = $2 AND w.user_id = $3
               AND w.claim_status = 'notified' AND w.confirmed_at IS NOT NULL
               AND (w.claim_deadline IS NULL OR w.claim_deadline > now())
             RETURNING w.claim_status",
            &[
                &winner.id,
                &conversation.app.bot_id,
                &conversation.user.id,
                &DOCUMENTS_ABOVE_RUB,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.get::<_, &str>(0) == "confirmed" {
        let text = conversation
            .render(t!("claim_confirmed"), &[("prize", &winner.prize)])
            .await;
        return Ok(Some(vec![conversation.with_main_menu(text).await]));
    }
    let intro = conversation
        .render(t!("claim_documents_intro"), &[("prize", &winner.prize)])
        .await;
    let mut replies = vec![OutgoingMessage::Send(SendMessage::new(
        conversation.chat_id,
        intro,
    ))];
    replies.extend(ask(conversation, winner.id, DocumentStep::FullName, None, None).await?);
    Ok(Some(replies))
}

/// "Decline": asked once more, with the button that really declines.
async fn decline_question(
    conversation: &Conversation<'_>,
    winner: &Winner,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    if !Ending::Declined.may_end(&winner.status) {
        return Ok(None);
    }
    let text = conversation
        .render(t!("claim_decline_ask"), &[("prize", &winner.prize)])
        .await;
    // The tapped message loses its buttons: changing one's mind confirms from here.
    let keyboard = InlineKeyboardMarkup::from(vec![
        vec![InlineKeyboardButton::callback(
            conversation.text(t!("btn_claim_decline_confirm")).await,
            format!("{DECLINE_CONFIRMED}{}", winner.id),
        )],
        vec![InlineKeyboardButton::callback(
            conversation.text(t!("btn_claim_confirm")).await,
            format!("{CONFIRM}{}", winner.id),
        )],
    ]);
    Ok(Some(vec![OutgoingMessage::Send(
        SendMessage::new(conversation.chat_id, text).markup(keyboard),
    )]))
}

/// The decline itself: the winner ends `declined` and the next reserve is called.
async fn decline(
    conversation: &Conversation<'_>,
    winner: &Winner,
) -> anyhow::Result<Option<Vec<OutgoingMessage>>> {
    let app = conversation.app;
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    // Ownership was checked by `own_winner`; the row cannot change hands.
    let rerolled = claims::reroll_winner(
        &tx,
        app.bot_id,
        winner.id,
        Ending::Declined,
        "declined by the winner",
        &Actor::System,
        &app.texts,
    )
    .await?;
    tx.commit().await?;
    if rerolled == claims::Rerolled::Untouched {
        return Ok(None);
    }
    // A documents dialogue of this claim would now lead nowhere.
    conversation.set_state(&DialogueState::Idle).await?;
    let text = conversation.text(t!("claim_declined")).await;
    Ok(Some(vec![conversation.with_main_menu(text).await]))
}

/// One typed answer of the documents dialogue: kept and the next question asked, refused
/// with what is expected, or, after the last one, the documents sealed into the row.
pub(crate) async fn receive(
    conversation: &Conversation<'_>,
    winner_id: i64,
    step: DocumentStep,
    sealed: Option<String>,
    text: &str,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    let key = &conversation.app.settings.prize_key;
    let Some(mut documents) = open_state(key, winner_id, sealed.as_deref()) else {
        // A state that does not open (another key) starts the questions again.
        return ask(conversation, winner_id, DocumentStep::FullName, None, None).await;
    };
    let next = match accept(step, &mut documents, text) {
        Err(()) => return ask(conversation, winner_id, step, sealed, Some(step.refusal())).await,
        Ok(next) => next,
    };
    if let Some(next) = next {
        let sealed = seal_state(key, winner_id, &documents)?;
        return ask(conversation, winner_id, next, Some(sealed), None).await;
    }
    let plain = serde_json::to_vec(&documents)?;
    let sealed = key.seal_documents(winner_id, &plain);
    let client = conversation.app.pool.get().await?;
    let stored = client
        .execute(
            "UPDATE raffle_winners
             SET documents = $4, documents_at = now(), documents_purged_at = NULL,
                 claim_status = 'documents_received'
             WHERE id = $1 AND bot_id = $2 AND user_id = $3 AND claim_status = 'notified'
               AND consent_at IS NOT NULL
               AND (claim_deadline IS NULL OR claim_deadline > now())",
            &[
                &winner_id,
                &conversation.app.bot_id,
                &conversation.user.id,
                &sealed,
            ],
        )
        .await?;
    conversation.set_state(&DialogueState::Idle).await?;
    let key = if stored == 1 {
        tracing::info!(winner_id, "claim documents received");
        t!("claim_documents_received")
    } else {
        t!("claim_unavailable")
    };
    let text = conversation.text(key).await;
    Ok(vec![conversation.with_main_menu(text).await])
}

/// Anything but text while a question is open: the question again.
pub(crate) async fn repeat(
    conversation: &Conversation<'_>,
    winner_id: i64,
    step: DocumentStep,
    sealed: Option<String>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    ask(conversation, winner_id, step, sealed, None).await
}

async fn ask(
    conversation: &Conversation<'_>,
    winner_id: i64,
    step: DocumentStep,
    sealed: Option<String>,
    refusal: Option<TextKey>,
) -> anyhow::Result<Vec<OutgoingMessage>> {
    conversation
        .set_state(&DialogueState::ClaimDocuments {
            winner_id,
            step,
            sealed,
        })
        .await?;
    let mut text = conversation.text(step.question()).await;
    if let Some(refusal) = refusal {
        text = format!("{}\n\n{text}", conversation.text(refusal).await);
    }
    Ok(vec![conversation.with_cancel_keyboard(text).await])
}

fn seal_state(
    key: &crate::pii::PrizeKey,
    winner_id: i64,
    documents: &Documents,
) -> anyhow::Result<String> {
    let plain = serde_json::to_vec(documents)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key.seal_documents(winner_id, &plain)))
}

fn open_state(
    key: &crate::pii::PrizeKey,
    winner_id: i64,
    sealed: Option<&str>,
) -> Option<Documents> {
    let Some(sealed) = sealed else {
        return Some(Documents::default());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    let plain = key.open_documents(winner_id, &bytes).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Stores a valid answer and says what comes next (`None`: that was the last).
fn accept(
    step: DocumentStep,
    documents: &mut Documents,
    text: &str,
) -> Result<Option<DocumentStep>, ()> {
    match step {
        DocumentStep::FullName => {
            documents.full_name = Some(full_name(text).ok_or(())?);
            Ok(Some(DocumentStep::Passport))
        }
        DocumentStep::Passport => {
            documents.passport = Some(passport(text).ok_or(())?);
            Ok(Some(DocumentStep::Inn))
        }
        DocumentStep::Inn => {
            documents.inn = Some(inn(text).ok_or(())?);
            Ok(Some(DocumentStep::Address))
        }
        DocumentStep::Address => {
            documents.address = Some(address(text).ok_or(())?);
            Ok(None)
        }
    }
}

/// Two or three words of one alphabet each (Cyrillic or Latin), a hyphen or an
/// apostrophe inside a word allowed (`Салтыков-Щедрин`, `O'Neil`).
fn full_name(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !(2..=3).contains(&words.len()) {
        return None;
    }
    let cyrillic = |c: char| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё');
    let latin = |c: char| c.is_ascii_alphabetic();
    let word_ok = |word: &str| {
        let letters_ok = word
            .chars()
            .all(|c| cyrillic(c) || latin(c) || c == '-' || c == '\'');
        let edges_ok = word.chars().next().is_some_and(|c| cyrillic(c) || latin(c))
            && word.chars().last().is_some_and(|c| cyrillic(c) || latin(c));
        let one_script = !(word.chars().any(cyrillic) && word.chars().any(latin));
        letters_ok && edges_ok && one_script && word.chars().count() <= 50
    };
    words
        .iter()
        .all(|word| word_ok(word))
        .then(|| words.join(" "))
}

/// 4 digits of the series and 6 of the number, spaces anywhere: `4510 123456`.
fn passport(text: &str) -> Option<String> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace())
    {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (digits.len() == 10).then(|| format!("{} {}", &digits[..4], &digits[4..]))
}

/// An individual's INN: 12 digits whose last two are the check digits of the Federal Tax
/// Service's algorithm (weighted sums mod 11, mod 10).
fn inn(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let check = |weights: &[u32]| -> u32 {
        let sum: u32 = weights.iter().zip(&d).map(|(w, d)| w * d).sum();
        sum % 11 % 10
    };
    let first = check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]);
    let second = check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]);
    (d[10] == first && d[11] == second).then_some(digits)
}

/// 10 to 300 characters, spaces collapsed, no control characters.
fn address(text: &str) -> Option<String> {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let length = collapsed.chars().count();
    ((10..=300).contains(&length) && !collapsed.chars().any(char::is_control)).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_name_is_two_or_three_words_of_one_alphabet_each() {
        assert_eq!(
            full_name("  Иванов   Иван Иванович ").as_deref(),
            Some("Иванов Иван Иванович")
        );
        assert!(full_name("Салтыков-Щедрин Михаил").is_some());
        assert!(full_name("O'Neil Shaquille").is_some());
        for bad in [
            "Иванов",
            "Иванов Иван Иванович Младший",
            "Ivanов Ivan",
            "Иванов 1ван",
            "-Иванов Иван",
            "Иванов Иван!",
            "",
        ] {
            assert_eq!(full_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_passport_is_four_and_six_digits_with_spaces_allowed() {
        assert_eq!(passport("4510 123456").as_deref(), Some("4510 123456"));
        assert_eq!(passport("45 10 123 456").as_deref(), Some("4510 123456"));
        assert_eq!(passport("4510123456").as_deref(), Some("4510 123456"));
        for bad in [
            "4510 12345",
            "4510-123456",
            "451O 123456",
            "45101234567",
            "",
        ] {
            assert_eq!(passport(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_inn_of_an_individual_needs_both_check_digits_right() {
        // Check digits computed by hand with the published weights.
        assert_eq!(inn("500100732259").as_deref(), Some("500100732259"));
        assert_eq!(inn(" 5001 0073 2259 ").as_deref(), Some("500100732259"));
        assert_eq!(inn("500100732258"), None, "last check digit wrong");
        assert_eq!(inn("500100732269"), None, "first check digit wrong");
        assert_eq!(inn("7707083893"), None, "a company's 10-digit INN");
        assert_eq!(inn("50010073225x"), None);
    }

    #[test]
    fn an_address_has_ten_to_three_hundred_characters() {
        assert!(address("101000, Москва, ул. Мясницкая, д. 1").is_some());
        assert!(address("Москва").is_none());
        assert!(address(&"д".repeat(301)).is_none());
    }

    #[test]
    fn claim_button_actions_parse_and_nothing_else_does() {
        assert_eq!(Action::parse("ok"), Some(Action::Confirm));
        assert_eq!(Action::parse("decline"), Some(Action::DeclineConfirmed));
        assert_eq!(Action::parse("OK"), None);
        assert_eq!(Action::parse(""), None);
    }

    #[test]
    fn the_answers_in_the_dialogue_state_open_only_for_their_winner() {
        let key = crate::pii::PrizeKey::new([5; 32]);
        let documents = Documents {
            passport: Some("4510 123456".into()),
            ..Documents::default()
        };
        let sealed = seal_state(&key, 7, &documents).expect("sealed");
        assert!(!sealed.contains("123456"));
        assert_eq!(open_state(&key, 7, Some(&sealed)), Some(documents));
        assert_eq!(open_state(&key, 8, Some(&sealed)), None);
    }
}
