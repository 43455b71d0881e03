//! Which receipt lines are promo products, and how many raffle tickets a receipt earns.
//!
//! Product names on receipts are truncated, abbreviated and unevenly spaced
//! (`"ЧИПСЫ  LAY'S Сметана/зелень 140г"`), so both names and keywords are normalised
//! the same way before a substring match: Unicode lower case, `ё` read as `е`, runs of
//! whitespace collapsed to one space.

use super::fns::{FnsItem, FnsReceipt};
use super::qr::OperationType;

/// Promo keywords and exclusion keywords, normalised once.
///
/// An empty promo list means "every product takes part" (a promotion on any purchase,
/// and what the sandbox runs with); exclusions still apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordMatcher {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl KeywordMatcher {
    pub fn new(include: &[String], exclude: &[String]) -> Self {
        let prepare = |words: &[String]| -> Vec<String> {
            let mut words: Vec<String> = words
                .iter()
                .map(|word| normalize(word))
                .filter(|word| !word.is_empty())
                .collect();
            words.sort();
            words.dedup();
            words
        };
        KeywordMatcher {
            include: prepare(include),
            exclude: prepare(exclude),
        }
    }

    /// Whether a line with this name is a promo product.
    pub fn matches(&self, name: &str) -> bool {
        let name = normalize(name);
        if name.is_empty() || self.exclude.iter().any(|word| name.contains(word.as_str())) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|word| name.contains(word.as_str()))
    }
}

/// Lower case (Unicode), `ё` → `е`, whitespace runs → one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        for lower in ch.to_lowercase() {
            out.push(if lower == 'ё' { 'е' } else { lower });
        }
    }
    out
}

/// Tickets one matching line earns: `floor(quantity)` (at least 1) for piece goods, 1
/// for a weighted line. A line is weighted when its unit (FFD tag 2108) is anything but
/// pieces, or, on older receipts without a unit, when its quantity is fractional.
pub fn tickets_for_line(item: &FnsItem) -> u32 {
    let weighted = item
        .items_quantity_measure
        .is_some_and(|measure| measure != 0)
        || item.quantity.fract() != 0.0;
    if weighted || !item.quantity.is_finite() || item.quantity < 1.0 {
        return 1;
    }
    // `as` saturates for floats beyond u32::MAX.
    item.quantity.floor() as u32
}

/// The tickets of a receipt and the lines that earned them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketCount {
    pub tickets: u32,
    /// Indexes into `items` of the promo lines.
    pub promo_lines: Vec<usize>,
}

/// Sums the tickets of every promo line (repeated lines of one product add up). A
/// receipt that is not a sale earns nothing, whatever it contains.
pub fn count_tickets(receipt: &FnsReceipt, matcher: &KeywordMatcher) -> TicketCount {
    if receipt.operation() != Some(OperationType::Sale) {
        return TicketCount::default();
    }
    count_lines(&receipt.items, matcher)
}

/// [`count_tickets`] without the operation check, for lines already known to be a sale.
pub fn count_lines(items: &[FnsItem], matcher: &KeywordMatcher) -> TicketCount {
    let mut count = TicketCount::default();
    for (index, item) in items.iter().enumerate() {
        if matcher.matches(&item.name) {
            count.tickets = count.tickets.saturating_add(tickets_for_line(item));
            count.promo_lines.push(index);
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(name: &str, quantity: f64, measure: Option<i64>) -> FnsItem {
        FnsItem {
            name: name.to_owned(),
            price: None,
            quantity,
            sum: None,
            nds: None,
            nds18: None,
            nds10: None,
            payment_type: None,
            product_type: None,
            items_quantity_measure: measure,
            product_code_new: None,
        }
    }

    fn matcher(include: &[&str], exclude: &[&str]) -> KeywordMatcher {
        let owned = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        KeywordMatcher::new(&owned(include), &owned(exclude))
    }

    fn receipt(operation: i64, items: serde_json::Value) -> FnsReceipt {
        FnsReceipt::from_json(json!({
            "dateTime": "2024-09-17T18:01:00",
            "operationType": operation,
            "totalSum": 100,
            "fiscalDriveNumber": "7281440500751551",
            "fiscalDocumentNumber": 1,
            "fiscalSign": 2,
            "items": items,
        }))
        .expect("a valid receipt")
    }

    #[test]
    fn names_are_lower_cased_with_yo_as_ye_and_collapsed_whitespace() {
        assert_eq!(normalize("  ЧИПСЫ\t LAY'S   Ёжик \n"), "чипсы lay's ежик");
        assert_eq!(normalize("ÉCLAIR  Straße"), "éclair straße");
        assert_eq!(normalize(" \t "), "");
    }

    #[test]
    fn keywords_match_case_insensitively_ignoring_yo_and_spacing() {
        let m = matcher(&["чипсы  lay's", "Сёмга"], &[]);
        assert!(m.matches("ЧИПСЫ LAY'S Сметана/зелень 140г"));
        assert!(m.matches("*Чипсы   Lay's краб"));
        assert!(m.matches("СЕМГА слабосоленая 150г"));
        assert!(!m.matches("Чипсы Pringles"));
        assert!(!m.matches("   "));
    }

    #[test]
    fn an_exclusion_keyword_disqualifies_a_line_that_matches_a_promo_keyword() {
        let m = matcher(&["чипсы"], &["ПРИНГЛС", "ёж"]);
        assert!(m.matches("Чипсы Лейс"));
        assert!(!m.matches("Чипсы принглс 165г"));
        assert!(!m.matches("Чипсы ЕЖИК"));
    }

    #[test]
    fn without_promo_keywords_every_line_but_the_excluded_ones_counts() {
        let m = matcher(&[], &["пакет"]);
        assert!(m.matches("Молоко 1л"));
        assert!(!m.matches("Пакет-майка"));
    }

    #[test]
    fn piece_goods_earn_floor_of_quantity_and_at_least_one() {
        assert_eq!(tickets_for_line(&item("Чипсы", 3.0, Some(0))), 3);
        assert_eq!(tickets_for_line(&item("Чипсы", 1.0, None)), 1);
        assert_eq!(tickets_for_line(&item("Чипсы", 0.0, Some(0))), 1);
        assert_eq!(tickets_for_line(&item("Чипсы", -2.0, None)), 1);
        assert_eq!(tickets_for_line(&item("Чипсы", 1e12, Some(0))), u32::MAX);
    }

    #[test]
    fn weighted_lines_earn_one_ticket_whatever_the_weight() {
        assert_eq!(tickets_for_line(&item("Тыква", 2.474, Some(11))), 1);
        assert_eq!(tickets_for_line(&item("Сыр весовой", 3.0, Some(11))), 1);
        assert_eq!(tickets_for_line(&item("Орехи", 250.0, Some(10))), 1);
        // Older receipts carry no unit: a fractional quantity means weight.
        assert_eq!(tickets_for_line(&item("Конфеты", 0.35, None)), 1);
        assert_eq!(tickets_for_line(&item("Конфеты", 2.5, None)), 1);
    }

    #[test]
    fn repeated_promo_lines_are_summed_and_other_lines_ignored() {
        let r = receipt(
            1,
            json!([
                {"name": "Чипсы Лейс 140г", "quantity": 2, "itemsQuantityMeasure": 0},
                {"name": "Молоко", "quantity": 5},
                {"name": "ЧИПСЫ ЛЕЙС 140Г", "quantity": 1},
                {"name": "Чипсы Лейс весовые", "quantity": 0.3, "itemsQuantityMeasure": 11},
            ]),
        );
        let count = count_tickets(&r, &matcher(&["чипсы лейс"], &[]));
        assert_eq!(count.tickets, 4);
        assert_eq!(count.promo_lines, vec![0, 2, 3]);
    }

    #[test]
    fn refunds_and_other_operations_never_earn_tickets() {
        let items = json!([{"name": "Чипсы Лейс", "quantity": 3}]);
        let m = matcher(&["чипсы"], &[]);
        for operation in [2, 3, 4] {
            assert_eq!(
                count_tickets(&receipt(operation, items.clone()), &m),
                TicketCount::default(),
                "operation {operation}"
            );
        }
        assert_eq!(count_tickets(&receipt(1, items), &m).tickets, 3);
    }

    #[test]
    fn a_receipt_without_promo_lines_earns_nothing() {
        let r = receipt(1, json!([{"name": "Хлеб", "quantity": 1}]));
        let count = count_tickets(&r, &matcher(&["чипсы"], &[]));
        assert_eq!(count, TicketCount::default());
    }
}
