//! Shopper texts of the receipt flow (upload answers, verification outcomes).

/// (key, Russian, English).
pub const TEXTS: &[(&str, &str, &str)] = &[];
