//! Admin dialogue state and the pure rules that check what an admin types.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::pii::Phone;

/// What an admin flow is waiting for; each variant carries what was collected so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AdminState {
    BroadcastText,
    BroadcastPreview { text: String },
    BroadcastTime { text: String },
    RafflePrize,
    RaffleWinnerCount { prize: String },
    RaffleConfirm { prize: String, winner_count: i32 },
    ManualUser,
    ManualAmount { shopper: Shopper },
    ManualReason { shopper: Shopper, amount: i32 },
}

/// The shopper a manual grant is for, as found by the admin's search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shopper {
    pub user_id: i64,
    pub telegram_id: i64,
    /// Name, @username, masked phone and id, as shown to the admin.
    pub label: String,
    pub lang: String,
    pub reachable: bool,
}

pub const BROADCAST_MAX_CHARS: usize = 4096;
pub const WINNERS_MAX: i32 = 100;
pub const TICKETS_MAX: i32 = 1000;
/// A campaign scheduled further ahead is more likely a typo in the year than a plan.
pub const SCHEDULE_MAX_DAYS: i64 = 365;

/// Moscow has kept UTC+3 all year since 2014, so a fixed offset is exact.
pub fn moscow() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset")
}

/// `ДД.ММ.ГГГГ ЧЧ:ММ` in Moscow time.
pub const MOSCOW_FORMAT: &str = "%d.%m.%Y %H:%M";

pub fn format_moscow(at: DateTime<Utc>) -> String {
    at.with_timezone(&moscow())
        .format(MOSCOW_FORMAT)
        .to_string()
}

/// Broadcast text as typed (outer blank lines dropped); Telegram's own length limit.
pub fn broadcast_text(input: &str) -> Option<String> {
    let text = input.trim();
    let len = text.chars().count();
    (1..=BROADCAST_MAX_CHARS)
        .contains(&len)
        .then(|| text.to_owned())
}

pub fn prize(input: &str) -> Option<String> {
    let prize = input.split_whitespace().collect::<Vec<_>>().join(" ");
    (2..=200).contains(&prize.chars().count()).then_some(prize)
}

pub fn winner_count(input: &str) -> Option<i32> {
    whole_number(input).filter(|n| (1..=WINNERS_MAX).contains(n))
}

pub fn ticket_amount(input: &str) -> Option<i32> {
    whole_number(input).filter(|n| (1..=TICKETS_MAX).contains(n))
}

pub fn reason(input: &str) -> Option<String> {
    let reason = input.split_whitespace().collect::<Vec<_>>().join(" ");
    (3..=500)
        .contains(&reason.chars().count())
        .then_some(reason)
}

/// Digits only: `+5`, `5.0` or `1e2` are refused rather than guessed.
fn whole_number(input: &str) -> Option<i32> {
    let digits = input.trim();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    Format,
    Past,
    TooFar,
}

/// Parses a Moscow wall-clock time and checks it lies between `now` and a year ahead.
pub fn schedule_time(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
    let tidy = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let naive =
        NaiveDateTime::parse_from_str(&tidy, MOSCOW_FORMAT).map_err(|_| ScheduleError::Format)?;
    let at = moscow()
        .from_local_datetime(&naive)
        .single()
        .ok_or(ScheduleError::Format)?
        .with_timezone(&Utc);
    if at <= now {
        return Err(ScheduleError::Past);
    }
    if at > now + Duration::days(SCHEDULE_MAX_DAYS) {
        return Err(ScheduleError::TooFar);
    }
    Ok(at)
}

/// How an admin names a shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserQuery {
    Username(String),
    Phone(Phone),
    /// Bare digits are a Telegram id or a phone number; the id wins when both match.
    IdOrPhone {
        id: Option<i64>,
        phone: Option<Phone>,
    },
}

impl UserQuery {
    pub fn parse(input: &str) -> Option<UserQuery> {
        let query = input.trim();
        if let Some(name) = query.strip_prefix('@') {
            return is_username(name).then(|| UserQuery::Username(name.to_owned()));
        }
        if !query.is_empty() && query.chars().all(|c| c.is_ascii_digit()) {
            let id = query.parse::<i64>().ok().filter(|id| *id > 0);
            let phone = Phone::parse(query).ok();
            return (id.is_some() || phone.is_some()).then_some(UserQuery::IdOrPhone { id, phone });
        }
        if let Ok(phone) = Phone::parse(query) {
            return Some(UserQuery::Phone(phone));
        }
        // A username typed without its @ (it must contain a letter to not be a number).
        (is_username(query) && query.chars().any(|c| c.is_ascii_alphabetic()))
            .then(|| UserQuery::Username(query.to_owned()))
    }
}

fn is_username(name: &str) -> bool {
    (3..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_moscow_time_in_the_future_becomes_utc() {
        let now = utc("2026-11-24T06:00:00Z");
        assert_eq!(
            schedule_time(" 25.11.2026   12:30 ", now),
            Ok(utc("2026-11-25T09:30:00Z"))
        );
        assert_eq!(
            format_moscow(utc("2026-11-25T09:30:00Z")),
            "25.11.2026 12:30"
        );
    }

    #[test]
    fn malformed_past_and_far_future_times_are_refused() {
        let now = utc("2026-11-24T06:00:00Z");
        for bad in [
            "завтра",
            "2026-11-25 12:30",
            "32.11.2026 12:00",
            "25.11.2026",
            "25.11.2026 25:00",
            "",
        ] {
            assert_eq!(schedule_time(bad, now), Err(ScheduleError::Format), "{bad}");
        }
        // 09:00 Moscow is 06:00 UTC: exactly now is not in the future.
        assert_eq!(
            schedule_time("24.11.2026 09:00", now),
            Err(ScheduleError::Past)
        );
        assert_eq!(
            schedule_time("01.01.2020 10:00", now),
            Err(ScheduleError::Past)
        );
        assert_eq!(
            schedule_time("01.01.2028 10:00", now),
            Err(ScheduleError::TooFar)
        );
    }

    #[test]
    fn counts_and_amounts_are_whole_numbers_in_range() {
        assert_eq!(winner_count(" 3 "), Some(3));
        assert_eq!(winner_count("100"), Some(100));
        for bad in ["0", "101", "-1", "+5", "2.0", "три", "", "99999999999"] {
            assert_eq!(winner_count(bad), None, "{bad}");
        }
        assert_eq!(ticket_amount("1000"), Some(1000));
        assert_eq!(ticket_amount("1001"), None);
        assert_eq!(ticket_amount("0"), None);
    }

    #[test]
    fn texts_are_tidied_and_length_checked() {
        assert_eq!(prize("  iPhone   16 "), Some("iPhone 16".into()));
        assert_eq!(prize("x"), None);
        assert_eq!(prize(&"я".repeat(201)), None);
        assert_eq!(reason("  чек  без QR "), Some("чек без QR".into()));
        assert_eq!(reason("ok"), None);
        assert_eq!(reason(&"я".repeat(501)), None);
        assert_eq!(
            broadcast_text("\n Привет!\nСтрока 2 \n"),
            Some("Привет!\nСтрока 2".into())
        );
        assert_eq!(broadcast_text("   "), None);
        assert!(broadcast_text(&"я".repeat(4096)).is_some());
        assert_eq!(broadcast_text(&"я".repeat(4097)), None);
    }

    #[test]
    fn shoppers_are_named_by_id_username_or_phone() {
        assert_eq!(
            UserQuery::parse("@Ivan_P"),
            Some(UserQuery::Username("Ivan_P".into()))
        );
        assert_eq!(
            UserQuery::parse("ivan_p"),
            Some(UserQuery::Username("ivan_p".into()))
        );
        assert_eq!(
            UserQuery::parse("4242"),
            Some(UserQuery::IdOrPhone {
                id: Some(4242),
                phone: None
            })
        );
        assert!(matches!(
            UserQuery::parse("79991234567"),
            Some(UserQuery::IdOrPhone {
                id: Some(79991234567),
                phone: Some(_)
            })
        ));
        assert!(matches!(
            UserQuery::parse("+7 (999) 123-45-67"),
            Some(UserQuery::Phone(p)) if p.digits() == "79991234567"
        ));
        for bad in ["@", "@a b", "привет", "", "0", "@ab", "+7 999"] {
            assert_eq!(UserQuery::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn states_round_trip_through_json() {
        let state = AdminState::ManualReason {
            shopper: Shopper {
                user_id: 1,
                telegram_id: 2,
                label: "Иван".into(),
                lang: "ru".into(),
                reachable: true,
            },
            amount: 5,
        };
        let json = serde_json::to_string(&state).unwrap_or_default();
        assert_eq!(serde_json::from_str::<AdminState>(&json).ok(), Some(state));
    }
}
