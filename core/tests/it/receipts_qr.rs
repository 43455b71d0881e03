//! Parsing and local pre-validation of the fiscal QR string (domain spec 2).

use promo_core::receipts::{
    FiscalKey, FiscalQr, FiscalQrError, Kopecks, NotEligible, OperationType, TimePrecision,
};

use crate::helpers::at;

const CANONICAL: &str = "t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1";

fn parse(text: &str) -> FiscalQr {
    FiscalQr::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn rejection(text: &str) -> FiscalQrError {
    match FiscalQr::parse(text) {
        Ok(qr) => panic!("{text:?} should be rejected, parsed as {qr}"),
        Err(error) => error,
    }
}

#[test]
fn a_canonical_qr_exposes_every_requisite() {
    let qr = parse(CANONICAL);
    assert_eq!(qr.date_time(), at(2024, 9, 17, 18, 1, 0));
    assert_eq!(qr.time_precision(), TimePrecision::Minutes);
    assert_eq!(qr.sum(), Kopecks::new(128_521));
    assert_eq!(qr.fiscal_drive_number(), "7281440500751551");
    assert_eq!(qr.fiscal_document_number(), 30526);
    assert_eq!(qr.fiscal_sign(), 1_168_453_787);
    assert_eq!(qr.operation(), OperationType::Sale);
    assert_eq!(
        qr.dedup_key(),
        FiscalKey {
            fiscal_drive_number: 7_281_440_500_751_551,
            fiscal_document_number: 30526,
            fiscal_sign: 1_168_453_787,
        }
    );
}

#[test]
fn the_canonical_string_round_trips() {
    assert_eq!(parse(CANONICAL).canonical(), CANONICAL);
    assert_eq!(parse(CANONICAL).to_string(), CANONICAL);
}

#[test]
fn a_qr_with_seconds_keeps_them_in_the_canonical_string() {
    let qr = parse("t=20190418T211655&s=3943.26&fn=9282000100072197&i=64318&fp=2918241905&n=1");
    assert_eq!(qr.date_time(), at(2019, 4, 18, 21, 16, 55));
    assert_eq!(qr.time_precision(), TimePrecision::Seconds);
    assert_eq!(
        qr.canonical(),
        "t=20190418T211655&s=3943.26&fn=9282000100072197&i=64318&fp=2918241905&n=1"
    );
}

#[test]
fn a_qr_with_seconds_and_lowercase_t_is_accepted() {
    let qr = parse("t=20220817t164412&s=100.00&fn=9960440302452937&i=1234&fp=147824925&n=1");
    assert_eq!(qr.date_time(), at(2022, 8, 17, 16, 44, 12));
}

#[test]
fn a_lowercase_t_separator_is_accepted_and_canonicalised_to_uppercase() {
    let qr = parse("t=20220817t1644&s=100.00&fn=9960440302452937&i=1234&fp=147824925&n=1");
    assert_eq!(qr.date_time(), at(2022, 8, 17, 16, 44, 0));
    assert!(qr.canonical().starts_with("t=20220817T1644&"));
}

#[test]
fn fields_are_found_by_key_in_any_order() {
    let qr = parse("n=1&fp=1168453787&i=30526&fn=7281440500751551&s=1285.21&t=20240917T1801");
    assert_eq!(qr.canonical(), CANONICAL);
}

#[test]
fn unknown_keys_and_empty_pairs_are_ignored() {
    let qr = parse(
        "t=20240917T1801&&s=1285.21&fn=7281440500751551&foo=bar&i=30526&fp=1168453787&n=1&junk",
    );
    assert_eq!(qr.canonical(), CANONICAL);
}

#[test]
fn stray_whitespace_around_values_and_the_string_is_trimmed() {
    let qr =
        parse("  t=20240917T1801 &s= 1285.21&fn=7281440500751551 &i=30526&fp=1168453787&n=1\n");
    assert_eq!(qr.canonical(), CANONICAL);
}

#[test]
fn a_nine_digit_fiscal_sign_is_accepted_without_padding() {
    let qr = parse("t=20240917T1801&s=10.00&fn=7281440500751551&i=7&fp=147824925&n=1");
    assert_eq!(qr.fiscal_sign(), 147_824_925);
    assert_eq!(qr.fiscal_document_number(), 7);
    assert!(qr.canonical().contains("&fp=147824925&"));
}

#[test]
fn an_integer_sum_is_accepted() {
    let qr = parse("t=20240917T1801&s=500&fn=7281440500751551&i=30526&fp=1168453787&n=1");
    assert_eq!(qr.sum(), Kopecks::new(50_000));
    assert!(qr.canonical().contains("&s=500.00&"));
}

#[test]
fn a_sum_with_one_decimal_means_tens_of_kopecks() {
    let qr = parse("t=20240917T1801&s=12.5&fn=7281440500751551&i=30526&fp=1168453787&n=1");
    assert_eq!(qr.sum(), Kopecks::new(1250));
}

#[test]
fn the_largest_uint32_document_number_and_sign_fit() {
    let qr = parse("t=20240917T1801&s=1.00&fn=7281440500751551&i=4294967295&fp=4294967295&n=1");
    assert_eq!(qr.fiscal_document_number(), u32::MAX);
    assert_eq!(qr.fiscal_sign(), u32::MAX);
}

#[test]
fn leading_zeros_do_not_change_the_dedup_key() {
    let padded = parse("t=20240917T1801&s=1285.21&fn=7281440500751551&i=0030526&fp=0147824925&n=1");
    let plain = parse("t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=147824925&n=1");
    assert_eq!(padded.dedup_key(), plain.dedup_key());
}

#[test]
fn a_url_style_code_is_read_from_its_query() {
    let qr = parse(&format!("https://check.example.ru/receipt?{CANONICAL}"));
    assert_eq!(qr.canonical(), CANONICAL);
}

#[test]
fn keys_are_matched_case_insensitively() {
    let qr = parse("T=20240917T1801&S=1285.21&FN=7281440500751551&I=30526&FP=1168453787&N=1");
    assert_eq!(qr.canonical(), CANONICAL);
}

#[test]
fn every_operation_type_from_one_to_four_is_kept() {
    for (n, operation) in [
        (1, OperationType::Sale),
        (2, OperationType::SaleRefund),
        (3, OperationType::Purchase),
        (4, OperationType::PurchaseRefund),
    ] {
        let qr = parse(&CANONICAL.replace("&n=1", &format!("&n={n}")));
        assert_eq!(qr.operation(), operation);
        assert_eq!(operation.code(), n);
    }
}

#[test]
fn an_empty_string_is_rejected() {
    assert_eq!(rejection("   "), FiscalQrError::Empty);
}

#[test]
fn a_website_qr_is_not_a_fiscal_qr() {
    assert_eq!(
        rejection("https://example.com/promo"),
        FiscalQrError::NotAFiscalQr
    );
    assert_eq!(
        rejection("WIFI:S:cafe;T:WPA;P:secret;;"),
        FiscalQrError::NotAFiscalQr
    );
}

#[test]
fn a_string_missing_fn_i_or_fp_is_not_a_fiscal_qr() {
    for key in ["&fn=7281440500751551", "&i=30526", "&fp=1168453787"] {
        assert_eq!(
            rejection(&CANONICAL.replace(key, "")),
            FiscalQrError::NotAFiscalQr,
            "without {key}"
        );
    }
}

#[test]
fn a_string_missing_t_s_or_n_names_the_missing_field() {
    assert_eq!(
        rejection(&CANONICAL.replace("t=20240917T1801&", "")),
        FiscalQrError::MissingField("t")
    );
    assert_eq!(
        rejection(&CANONICAL.replace("&s=1285.21", "")),
        FiscalQrError::MissingField("s")
    );
    assert_eq!(
        rejection(&CANONICAL.replace("&n=1", "")),
        FiscalQrError::MissingField("n")
    );
}

#[test]
fn a_repeated_field_is_rejected_as_ambiguous() {
    assert_eq!(
        rejection(&format!("{CANONICAL}&i=30527")),
        FiscalQrError::DuplicateField("i")
    );
}

#[test]
fn a_fiscal_drive_number_that_is_not_sixteen_digits_is_rejected() {
    for bad in [
        "728144050075155",
        "72814405007515511",
        "72814405007515a1",
        "",
    ] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("7281440500751551", bad)),
                FiscalQrError::InvalidFiscalDriveNumber(_)
            ),
            "fn={bad}"
        );
    }
}

#[test]
fn a_document_number_that_is_not_one_to_ten_digits_or_exceeds_uint32_is_rejected() {
    for bad in ["", "12345678901", "4294967296", "30a26", "-1", "3.5"] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("i=30526", &format!("i={bad}"))),
                FiscalQrError::InvalidFiscalDocumentNumber(_)
            ),
            "i={bad}"
        );
    }
}

#[test]
fn a_fiscal_sign_that_is_not_one_to_ten_digits_or_exceeds_uint32_is_rejected() {
    for bad in ["", "11684537870", "4294967296", "9999999999", "11684x3787"] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("fp=1168453787", &format!("fp={bad}"))),
                FiscalQrError::InvalidFiscalSign(_)
            ),
            "fp={bad}"
        );
    }
}

#[test]
fn a_date_time_that_is_not_a_calendar_date_time_is_rejected() {
    for bad in [
        "20240931T1801",   // 31 September
        "20230229T1801",   // not a leap year
        "20240917T2401",   // hour 24
        "20240917T1860",   // minute 60
        "20240917T180160", // second 60
        "20240917 1801",   // no separator
        "20240917X1801",
        "20240917T180",   // 12 chars
        "20240917T18011", // 14 chars
        "2024-09-17T18:01",
        "",
    ] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("t=20240917T1801", &format!("t={bad}"))),
                FiscalQrError::InvalidDateTime(_)
            ),
            "t={bad}"
        );
    }
}

#[test]
fn a_leap_day_is_a_valid_date() {
    let qr = parse(&CANONICAL.replace("t=20240917T1801", "t=20240229T2359"));
    assert_eq!(qr.date_time(), at(2024, 2, 29, 23, 59, 0));
}

#[test]
fn a_zero_or_negative_sum_is_rejected() {
    for bad in ["0", "0.00", "-5.00", "-0"] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("s=1285.21", &format!("s={bad}"))),
                FiscalQrError::NonPositiveSum(_)
            ),
            "s={bad}"
        );
    }
}

#[test]
fn a_sum_that_is_not_roubles_with_a_dot_is_rejected() {
    for bad in [
        "",
        "12,50",
        "1.234",
        "abc",
        ".50",
        "5.",
        "1e3",
        "1234567890123.00",
    ] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("s=1285.21", &format!("s={bad}"))),
                FiscalQrError::InvalidSum(_)
            ),
            "s={bad}"
        );
    }
}

#[test]
fn an_operation_type_outside_one_to_four_is_rejected() {
    for bad in ["0", "5", "01", "sale", ""] {
        assert!(
            matches!(
                rejection(&CANONICAL.replace("n=1", &format!("n={bad}"))),
                FiscalQrError::InvalidOperationType(_)
            ),
            "n={bad}"
        );
    }
}

#[test]
fn errors_quote_at_most_a_short_excerpt_of_the_input() {
    let long = "9".repeat(500);
    let error = rejection(&CANONICAL.replace("s=1285.21", &format!("s=x{long}")));
    assert!(error.to_string().len() < 120, "{error}");
}

#[test]
fn garbage_input_never_panics() {
    for text in [
        "&&&&",
        "====",
        "t=&s=&fn=&i=&fp=&n=",
        "t=2024091７T1801&s=1&fn=7281440500751551&i=1&fp=1&n=1",
        "t=ЖЖЖЖЖЖЖЖЖЖЖЖЖ&s=1&fn=7281440500751551&i=1&fp=1&n=1",
        "\u{0}\u{1}fn=\u{ffff}",
        "?",
        "t=20240917T1801&s=99999999999999999999&fn=7281440500751551&i=1&fp=1&n=1",
    ] {
        assert!(FiscalQr::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn only_a_sale_is_eligible() {
    let refund = parse(&CANONICAL.replace("n=1", "n=2"));
    assert_eq!(
        refund.ensure_eligible(..),
        Err(NotEligible::NotASale(OperationType::SaleRefund))
    );
    assert_eq!(parse(CANONICAL).ensure_eligible(..), Ok(()));
}

#[test]
fn a_receipt_outside_the_promo_period_is_not_eligible() {
    let qr = parse(CANONICAL);
    let september = at(2024, 9, 1, 0, 0, 0)..at(2024, 10, 1, 0, 0, 0);
    let october = at(2024, 10, 1, 0, 0, 0)..at(2024, 11, 1, 0, 0, 0);
    assert_eq!(qr.ensure_eligible(september), Ok(()));
    assert_eq!(
        qr.ensure_eligible(october),
        Err(NotEligible::OutsidePromoPeriod(at(2024, 9, 17, 18, 1, 0)))
    );
    // The bounds are the caller's: an inclusive end at the receipt's minute includes it.
    assert_eq!(qr.ensure_eligible(..=at(2024, 9, 17, 18, 1, 0)), Ok(()));
}

#[test]
fn switching_time_precision_adds_or_truncates_seconds() {
    let minutes = parse(CANONICAL);
    let seconds = minutes.with_time_precision(TimePrecision::Seconds);
    assert!(seconds.canonical().starts_with("t=20240917T180100&"));
    assert_eq!(seconds.dedup_key(), minutes.dedup_key());

    let printed =
        parse("t=20190418T211655&s=3943.26&fn=9282000100072197&i=64318&fp=2918241905&n=1");
    let truncated = printed.with_time_precision(TimePrecision::Minutes);
    assert!(truncated.canonical().starts_with("t=20190418T2116&"));
    assert_eq!(truncated.date_time(), at(2019, 4, 18, 21, 16, 0));
}

#[test]
fn a_fiscal_qr_serialises_as_its_canonical_string_and_is_revalidated_on_read() {
    let json = serde_json::to_string(&parse(CANONICAL)).expect("serialises");
    assert_eq!(json, format!("\"{CANONICAL}\""));
    let back: FiscalQr = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, parse(CANONICAL));
    assert!(serde_json::from_str::<FiscalQr>("\"t=1&s=2\"").is_err());
}

#[test]
fn the_dedup_key_displays_all_three_identifiers() {
    assert_eq!(
        parse(CANONICAL).dedup_key().to_string(),
        "fn=7281440500751551 fd=30526 fp=1168453787"
    );
}
