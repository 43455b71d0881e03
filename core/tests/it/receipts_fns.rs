//! Tolerant reading of the FNS receipt JSON and its validation against the QR
//! (domain spec 1.5, 1.7 and 3).

use promo_core::receipts::{
    FiscalQr, FnsReceipt, FnsReceiptError, Kopecks, OperationType, ReceiptMismatch,
};
use serde_json::{json, Value};

use crate::helpers::at;

/// The captured answer of domain spec 3.1, verbatim.
const CAPTURED: &str = r#"{
  "code": 3, "fiscalDocumentFormatVer": 4,
  "user": "ООО \"Агроторг\"", "userInn": "7825706086  ",
  "retailPlace": "37S0 26151-Пятерочка",
  "retailPlaceAddress": "680038, 27 - Хабаровский край, г.о. город Хабаровск, г Хабаровск,, ул Серышева, Дом 22",
  "region": "27", "kktRegId": "0007795807005569    ", "numberKkt": "00105726645591",
  "dateTime": "2024-09-17T18:01:00",
  "operationType": 1, "appliedTaxationType": 1,
  "totalSum": 128521, "cashTotalSum": 0, "ecashTotalSum": 128521,
  "prepaidSum": 0, "creditSum": 0, "provisionSum": 0, "nds10": 11684,
  "fiscalDriveNumber": "7281440500751551", "fiscalDocumentNumber": 30526, "fiscalSign": 1168453787,
  "messageFiscalSign": 9.29725062962095e+18,
  "shiftNumber": 205, "requestNumber": 217,
  "operator": "Блинкова Римма Cергеевна, Продавец-каccир", "operatorInn": "272210689013",
  "items": [
    { "name": "*Тыква                       1кг", "price": 9999, "quantity": 2.474, "sum": 24738,
      "nds": 2, "paymentType": 4, "productType": 1, "itemsQuantityMeasure": 11 },
    { "name": "ЧЕБАРКУЛЬ Мол.ОТБ.3,8% м/у 1л", "price": 7999, "quantity": 1, "sum": 7999,
      "nds": 2, "paymentType": 4, "productType": 1, "itemsQuantityMeasure": 0,
      "productCodeNew": { "ean13": { "gtin": "4607036340658", "sernum": "", "productIdType": 3,
                                      "rawProductCode": "4607036340658" } } }
  ],
  "properties": { "propertyName": "X5", "propertyValue": "37S0;POS02-BO-37S0;…" },
  "metadata": { "id": 5478769089017910528, "ofdId": "ofd22", "subtype": "receipt",
                "address": "680038,Россия,Хабаровский край,…", "receiveDate": "2024-09-17T11:01:24Z" },
  "redefine_mask": 0
}"#;

const QR: &str = "t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1";

fn captured() -> Value {
    serde_json::from_str(CAPTURED).expect("the fixture is JSON")
}

fn read(value: Value) -> FnsReceipt {
    FnsReceipt::from_json(value).unwrap_or_else(|e| panic!("receipt should parse: {e}"))
}

fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} exists in the fixture")) = replacement;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().map(|o| o.remove(key));
    value
}

fn qr() -> FiscalQr {
    FiscalQr::parse(QR).expect("valid QR")
}

#[test]
fn the_captured_receipt_is_read_with_every_field_a_promo_needs() {
    let receipt = read(captured());
    assert_eq!(receipt.document_code, Some(3));
    assert_eq!(receipt.format_version, Some(4));
    assert_eq!(receipt.user.as_deref(), Some("ООО \"Агроторг\""));
    assert_eq!(receipt.date_time, at(2024, 9, 17, 18, 1, 0));
    assert_eq!(receipt.operation(), Some(OperationType::Sale));
    assert_eq!(receipt.total_sum, Kopecks::new(128_521));
    assert_eq!(receipt.ecash_total_sum, Some(Kopecks::new(128_521)));
    assert_eq!(receipt.nds10, Some(Kopecks::new(11_684)));
    assert_eq!(receipt.fiscal_drive_number, "7281440500751551");
    assert_eq!(receipt.fiscal_document_number, "30526");
    assert_eq!(receipt.fiscal_sign, "1168453787");
    assert_eq!(receipt.fiscal_key(), Some(qr().dedup_key()));
    assert_eq!(receipt.shift_number, Some(205));
    assert_eq!(receipt.items.len(), 2);

    let pumpkin = &receipt.items[0];
    assert_eq!(pumpkin.name, "*Тыква                       1кг");
    assert_eq!(pumpkin.price, Some(Kopecks::new(9999)));
    assert_eq!(pumpkin.quantity, 2.474);
    assert_eq!(pumpkin.sum, Some(Kopecks::new(24_738)));
    assert_eq!(pumpkin.nds, Some(2));
    assert_eq!(pumpkin.items_quantity_measure, Some(11));
    assert_eq!(pumpkin.product_code_new, None);

    let milk = &receipt.items[1];
    assert_eq!(milk.quantity, 1.0);
    assert_eq!(milk.items_quantity_measure, Some(0));
    assert_eq!(
        milk.product_code_new
            .as_ref()
            .and_then(|code| code.pointer("/ean13/gtin")),
        Some(&json!("4607036340658"))
    );
}

#[test]
fn space_padded_inn_and_register_number_are_trimmed() {
    let receipt = read(captured());
    assert_eq!(receipt.user_inn.as_deref(), Some("7825706086"));
    assert_eq!(receipt.kkt_reg_id.as_deref(), Some("0007795807005569"));
}

#[test]
fn the_message_fiscal_sign_beyond_i64_is_ignored() {
    // 9.29e18 overflows i64; the receipt must still be read.
    let receipt = read(with(
        captured(),
        "/messageFiscalSign",
        json!(9.29725062962095e18),
    ));
    assert_eq!(receipt.fiscal_sign, "1168453787");
}

#[test]
fn the_nineteen_digit_metadata_id_and_the_properties_stay_raw() {
    let receipt = read(captured());
    assert_eq!(
        receipt.metadata.as_ref().and_then(|m| m.get("id")),
        Some(&json!(5_478_769_089_017_910_528_i64))
    );
    assert_eq!(
        receipt.properties,
        Some(json!({ "propertyName": "X5", "propertyValue": "37S0;POS02-BO-37S0;…" }))
    );
}

#[test]
fn properties_as_an_array_of_key_value_pairs_are_kept_too() {
    let receipt = read(with(
        captured(),
        "/properties",
        json!([{ "key": "Код", "value": "6024" }]),
    ));
    assert_eq!(
        receipt.properties,
        Some(json!([{ "key": "Код", "value": "6024" }]))
    );
}

#[test]
fn identifiers_and_sums_may_be_numbers_strings_or_quoted_numbers() {
    let flipped = [
        ("/fiscalDriveNumber", json!(7_281_440_500_751_551_u64)),
        ("/fiscalDocumentNumber", json!("30526")),
        ("/fiscalSign", json!(" 1168453787 ")),
        ("/totalSum", json!("128521")),
        ("/operationType", json!("1")),
        ("/userInn", json!(7_825_706_086_u64)),
        ("/items/0/price", json!("9999")),
        ("/items/0/quantity", json!("2.474")),
        ("/items/0/sum", json!(24738.0)),
    ]
    .into_iter()
    .fold(captured(), |value, (pointer, replacement)| {
        with(value, pointer, replacement)
    });
    let receipt = read(flipped);
    assert_eq!(receipt.fiscal_drive_number, "7281440500751551");
    assert_eq!(receipt.fiscal_document_number, "30526");
    assert_eq!(receipt.fiscal_sign, "1168453787");
    assert_eq!(receipt.total_sum, Kopecks::new(128_521));
    assert_eq!(receipt.operation_type, 1);
    assert_eq!(receipt.user_inn.as_deref(), Some("7825706086"));
    assert_eq!(receipt.items[0].price, Some(Kopecks::new(9999)));
    assert_eq!(receipt.items[0].quantity, 2.474);
    assert_eq!(receipt.items[0].sum, Some(Kopecks::new(24_738)));
    assert_eq!(receipt.validate_against(&qr()), Ok(()));
}

#[test]
fn date_time_is_accepted_in_every_known_format() {
    for (raw, expected) in [
        (json!("2024-09-17T18:01:00"), at(2024, 9, 17, 18, 1, 0)),
        (json!("2024-09-17T18:01:37"), at(2024, 9, 17, 18, 1, 37)),
        (json!("2024-09-17T18:01"), at(2024, 9, 17, 18, 1, 0)),
        (json!("2020-09-16"), at(2020, 9, 16, 0, 0, 0)),
        // Unix seconds carry the register's wall clock as if it were UTC.
        (json!(1_726_596_060), at(2024, 9, 17, 18, 1, 0)),
        (json!("1726596060"), at(2024, 9, 17, 18, 1, 0)),
    ] {
        let receipt = read(with(captured(), "/dateTime", raw.clone()));
        assert_eq!(receipt.date_time, expected, "dateTime {raw}");
    }
}

#[test]
fn an_unreadable_date_time_is_an_invalid_receipt() {
    let error = FnsReceipt::from_json(with(captured(), "/dateTime", json!("17.09.2024 18:01")))
        .expect_err("not a known format");
    assert!(
        matches!(error, FnsReceiptError::InvalidField { ref field, .. } if field == "dateTime")
    );
}

#[test]
fn the_misspelled_retail_place_address_of_old_receipts_is_accepted() {
    let mut value = without(captured(), "retailPlaceAddress");
    value["retailPlaceAddres"] =
        json!("192012, Санкт-Петербург г., Обуховской Обороны пр-т, д.116");
    let receipt = read(value);
    assert_eq!(
        receipt.retail_place_address.as_deref(),
        Some("192012, Санкт-Петербург г., Обуховской Обороны пр-т, д.116")
    );
}

#[test]
fn items_without_price_or_quantity_default_to_one_piece() {
    let mut value = captured();
    value["items"][1] = json!({ "name": "Пакет", "sum": 999 });
    let receipt = read(value);
    let bag = &receipt.items[1];
    assert_eq!(bag.price, None);
    assert_eq!(bag.quantity, 1.0);
    assert_eq!(bag.items_quantity_measure, None);
    assert_eq!(bag.line_sum(), Some(Kopecks::new(999)));
}

#[test]
fn a_line_without_sum_is_priced_from_price_and_quantity() {
    let mut value = captured();
    value["items"][0] = json!({ "name": "Тыква", "price": 9999, "quantity": 2.474 });
    assert_eq!(read(value).items[0].line_sum(), Some(Kopecks::new(24_738)));
}

#[test]
fn a_legacy_receipt_with_per_item_vat_amounts_is_read() {
    let legacy = json!({
        "receiptCode": 3, "taxationType": 1,
        "user": "Агроторг ООО", "userInn": "7825706086",
        "dateTime": "2018-09-27T18:01:00", "operationType": 1,
        "totalSum": 32877, "cashTotalSum": 0, "ecashTotalSum": 32877,
        "nds10": 1490, "nds18": 2517,
        "fiscalDriveNumber": "9282000100155754", "fiscalDocumentNumber": 8723, "fiscalSign": 2472140768_u64,
        "kktRegId": "0001165769001352",
        "items": [
            { "price": 8190, "name": "2137654 ОГО Завтр.МЮС.зап.сух.яблок350г", "nds10": 745, "quantity": 1, "sum": 8190 },
            { "price": 4999, "name": "*3606533 MILKA Шок.BUBBLES кокос.нач.97г", "nds18": 763, "quantity": 1, "sum": 4999 }
        ],
        "properties": [{ "value": "6024", "key": "Код" }]
    });
    let receipt = read(legacy);
    assert_eq!(receipt.document_code, Some(3));
    assert_eq!(receipt.taxation_type, Some(1));
    assert_eq!(receipt.format_version, None);
    assert_eq!(receipt.items[0].nds10, Some(Kopecks::new(745)));
    assert_eq!(receipt.items[1].nds18, Some(Kopecks::new(763)));
    assert_eq!(receipt.items[1].nds, None);
    let qr =
        FiscalQr::parse("t=20180927T1801&s=328.77&fn=9282000100155754&i=8723&fp=2472140768&n=1")
            .expect("valid QR");
    assert_eq!(receipt.validate_against(&qr), Ok(()));
}

#[test]
fn a_malformed_optional_field_is_treated_as_absent() {
    let receipt = read(with(captured(), "/cashTotalSum", json!({ "odd": true })));
    assert_eq!(receipt.cash_total_sum, None);
}

#[test]
fn a_receipt_without_items_or_identifiers_is_rejected() {
    for key in [
        "items",
        "fiscalDriveNumber",
        "fiscalDocumentNumber",
        "fiscalSign",
        "totalSum",
        "dateTime",
        "operationType",
    ] {
        assert_eq!(
            FnsReceipt::from_json(without(captured(), key)),
            Err(FnsReceiptError::MissingField(key.into())),
            "without {key}"
        );
    }
    assert_eq!(
        FnsReceipt::from_json(json!([])),
        Err(FnsReceiptError::NotAnObject)
    );
    assert!(matches!(
        FnsReceipt::from_json(with(captured(), "/items", json!({}))),
        Err(FnsReceiptError::InvalidField { .. })
    ));
    assert!(matches!(
        FnsReceipt::from_json(with(captured(), "/fiscalSign", json!("12ab"))),
        Err(FnsReceiptError::InvalidField { .. })
    ));
}

#[test]
fn a_non_object_item_names_its_position() {
    let error = FnsReceipt::from_json(with(captured(), "/items/1", json!("milk")))
        .expect_err("an item must be an object");
    assert!(error.to_string().contains("items[1]"), "{error}");
}

#[test]
fn the_raw_json_is_kept_and_serialised_unchanged() {
    let receipt = read(captured());
    assert_eq!(receipt.raw_json(), &captured());
    let stored = serde_json::to_value(&receipt).expect("serialises");
    assert_eq!(stored, captured());
    let reloaded: FnsReceipt = serde_json::from_value(stored).expect("deserialises");
    assert_eq!(reloaded, receipt);
}

#[test]
fn the_captured_receipt_matches_its_qr() {
    assert_eq!(read(captured()).validate_against(&qr()), Ok(()));
}

#[test]
fn identifiers_are_compared_without_leading_zeros() {
    let receipt = read(
        [
            ("/fiscalDocumentNumber", json!("0030526")),
            ("/fiscalSign", json!("01168453787")),
        ]
        .into_iter()
        .fold(captured(), |value, (pointer, replacement)| {
            with(value, pointer, replacement)
        }),
    );
    assert_eq!(receipt.validate_against(&qr()), Ok(()));
}

#[test]
fn a_receipt_of_another_fiscal_drive_document_or_sign_is_a_mismatch() {
    let other_fn = read(with(
        captured(),
        "/fiscalDriveNumber",
        json!("7281440500751552"),
    ));
    assert!(matches!(
        other_fn.validate_against(&qr()),
        Err(ReceiptMismatch::FiscalDriveNumber { .. })
    ));
    let other_fd = read(with(captured(), "/fiscalDocumentNumber", json!(30527)));
    assert!(matches!(
        other_fd.validate_against(&qr()),
        Err(ReceiptMismatch::FiscalDocumentNumber { .. })
    ));
    let other_fp = read(with(captured(), "/fiscalSign", json!(1168453788)));
    assert!(matches!(
        other_fp.validate_against(&qr()),
        Err(ReceiptMismatch::FiscalSign { .. })
    ));
}

#[test]
fn a_total_that_differs_from_the_qr_sum_is_a_mismatch() {
    let receipt = read(with(captured(), "/totalSum", json!(128_520)));
    assert_eq!(
        receipt.validate_against(&qr()),
        Err(ReceiptMismatch::TotalSum {
            qr: Kopecks::new(128_521),
            receipt: Kopecks::new(128_520),
        })
    );
}

#[test]
fn a_refund_receipt_is_never_valid_for_a_promo() {
    let receipt = read(with(captured(), "/operationType", json!(2)));
    assert_eq!(
        receipt.validate_against(&qr()),
        Err(ReceiptMismatch::NotASale(2))
    );
}
