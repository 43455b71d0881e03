//! Every built-in text, grouped by who reads it. One table per group; a key appears in
//! exactly one table (a test checks it), with its Russian and English default.

pub mod admin;
pub mod raffle;
pub mod receipts;
pub mod shopper;

/// (key, Russian, English). Placeholders are `{name}`; plural forms `{n|чек|чека|чеков}`.
pub type Table = &'static [(&'static str, &'static str, &'static str)];

pub const TABLES: &[Table] = &[shopper::TEXTS, admin::TEXTS, receipts::TEXTS, raffle::TEXTS];

/// Whether `name` is a key of some table. `const`, so [`crate::t!`] checks literal keys
/// while the crate compiles.
pub const fn has(name: &str) -> bool {
    let mut t = 0;
    while t < TABLES.len() {
        let table = TABLES[t];
        let mut i = 0;
        while i < table.len() {
            if same(table[i].0, name) {
                return true;
            }
            i += 1;
        }
        t += 1;
    }
    false
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
