//! Fiscal documents, pure and without I/O: the receipt QR string (`t=…&s=…&fn=…`),
//! the FNS receipt JSON, and amounts in kopecks. The ProverkaCheka client and the
//! receipt use-cases both build on these types.

pub mod fns;
pub mod qr;

pub use fns::{FnsItem, FnsReceipt, FnsReceiptError, ReceiptMismatch};
pub use qr::{FiscalKey, FiscalQr, FiscalQrError, NotEligible, OperationType, TimePrecision};

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// An amount of money in kopecks (1/100 rouble), the unit of every FNS amount.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Kopecks(i64);

impl Kopecks {
    pub const ZERO: Kopecks = Kopecks(0);

    pub const fn new(kopecks: i64) -> Self {
        Kopecks(kopecks)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_add(other.0).map(Kopecks)
    }
}

impl From<i64> for Kopecks {
    fn from(kopecks: i64) -> Self {
        Kopecks(kopecks)
    }
}

/// Renders roubles with exactly two decimals (`1285.21`, `500.00`, `-0.05`): the
/// format of the QR `s` field and of the ProverkaCheka `s` form field.
impl fmt::Display for Kopecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Saturating: amounts come from provider JSON, and absurd values must not panic.
impl Add for Kopecks {
    type Output = Kopecks;

    fn add(self, other: Kopecks) -> Kopecks {
        Kopecks(self.0.saturating_add(other.0))
    }
}

impl Sub for Kopecks {
    type Output = Kopecks;

    fn sub(self, other: Kopecks) -> Kopecks {
        Kopecks(self.0.saturating_sub(other.0))
    }
}

impl Sum for Kopecks {
    fn sum<I: Iterator<Item = Kopecks>>(iter: I) -> Kopecks {
        iter.fold(Kopecks::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::Kopecks;

    #[test]
    fn kopecks_display_as_roubles_with_two_decimals() {
        assert_eq!(Kopecks::new(128_521).to_string(), "1285.21");
        assert_eq!(Kopecks::new(50_000).to_string(), "500.00");
        assert_eq!(Kopecks::new(5).to_string(), "0.05");
        assert_eq!(Kopecks::new(-5).to_string(), "-0.05");
        assert_eq!(Kopecks::new(i64::MIN).to_string(), "-92233720368547758.08");
    }

    #[test]
    fn kopecks_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(
            Kopecks::new(i64::MAX) + Kopecks::new(1),
            Kopecks::new(i64::MAX)
        );
        assert_eq!(
            Kopecks::new(i64::MIN) - Kopecks::new(1),
            Kopecks::new(i64::MIN)
        );
        let total: Kopecks = [Kopecks::new(24_738), Kopecks::new(7_999)]
            .into_iter()
            .sum();
        assert_eq!(total, Kopecks::new(32_737));
    }
}
