//! The real ProverkaCheka client against the fake over real HTTP: every answer code,
//! every provider fault, the three request forms on both body encodings.

use std::time::Duration;

use promo_core::proverkacheka::{CheckOutcome, ProverkaChekaClient, ProviderError};
use promo_core::receipts::{FiscalQr, TimePrecision};
use promo_testkit::proverkacheka::{FakeAnswer, FakeProverkaCheka, RequestForm};
use promo_testkit::receipts::{qr_jpeg, qr_photo_jpeg, qr_png, PhotoOptions, ReceiptBuilder};
use serde_json::{json, Value};

const TOKEN: &str = "12345.AbCdEfGhIjKlMnOpQ";

async fn fake() -> FakeProverkaCheka {
    FakeProverkaCheka::start(TOKEN)
        .await
        .expect("the fake starts")
}

fn client_for(fake: &FakeProverkaCheka) -> ProverkaChekaClient {
    ProverkaChekaClient::new(&fake.base_url(), TOKEN.to_owned(), Duration::from_secs(10))
        .expect("the client builds")
}

/// A fake with one registered receipt, and that receipt.
async fn fake_with_receipt() -> (FakeProverkaCheka, ReceiptBuilder) {
    let fake = fake().await;
    let receipt = ReceiptBuilder::pyaterochka();
    fake.register_receipt(&receipt);
    (fake, receipt)
}

fn receipt_of(outcome: Result<CheckOutcome, ProviderError>) -> promo_core::receipts::FnsReceipt {
    match outcome {
        Ok(CheckOutcome::Receipt(receipt)) => *receipt,
        other => panic!("expected a receipt, got {other:?}"),
    }
}

/// Posts a urlencoded form the way most Python/C# clients do, returning the JSON body.
async fn post_urlencoded(fake: &FakeProverkaCheka, form: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/check/get", fake.base_url()))
        .form(form)
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn a_registered_receipt_is_returned_for_its_raw_qr() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();

    let receipt = receipt_of(client_for(&fake).check_raw(&qr.canonical()).await);

    assert_eq!(receipt.validate_against(&qr), Ok(()));
    assert_eq!(receipt.raw_json(), &built.fns_json());
    assert_eq!(fake.calls(), 1);
    let request = &fake.requests()[0];
    assert!(request.is_multipart());
    assert_eq!(request.form(), RequestForm::QrRaw);
    assert_eq!(request.field("token"), Some(TOKEN));
    assert_eq!(request.field("qrraw"), Some(qr.canonical().as_str()));
}

#[tokio::test]
async fn the_manual_form_sends_every_requisite_and_finds_the_receipt() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();

    let receipt = receipt_of(client_for(&fake).check_manual(&qr).await);

    assert_eq!(receipt.validate_against(&qr), Ok(()));
    let request = &fake.requests()[0];
    assert_eq!(request.form(), RequestForm::Manual);
    assert_eq!(request.field("fn"), Some(qr.fiscal_drive_number()));
    assert_eq!(
        request.field("fd"),
        Some(qr.fiscal_document_number().to_string().as_str())
    );
    assert_eq!(
        request.field("fp"),
        Some(qr.fiscal_sign().to_string().as_str())
    );
    assert_eq!(request.field("t"), Some(qr.time_param().as_str()));
    assert_eq!(request.field("n"), Some("1"));
    assert_eq!(request.field("s"), Some(qr.sum().to_string().as_str()));
    assert_eq!(request.field("qr"), Some("0"));
}

#[tokio::test]
async fn the_picture_form_is_decoded_by_the_fake_like_the_real_service() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();
    let client = client_for(&fake);

    let from_png = client
        .check_file(qr_png(&built.qr_text()), "check.png", "image/png")
        .await;
    let from_jpeg = client
        .check_file(qr_jpeg(&built.qr_text()), "check.jpg", "image/jpeg")
        .await;
    let from_photo = client
        .check_file(
            qr_photo_jpeg(&built.qr_text(), &PhotoOptions::default()),
            "photo.jpg",
            "image/jpeg",
        )
        .await;

    for outcome in [from_png, from_jpeg, from_photo] {
        assert_eq!(receipt_of(outcome).validate_against(&qr), Ok(()));
    }
    let request = &fake.requests()[0];
    assert_eq!(request.form(), RequestForm::QrFile);
    let file = request.file.as_ref().expect("the picture was uploaded");
    assert_eq!(file.filename.as_deref(), Some("check.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
}

#[tokio::test]
async fn a_picture_without_a_readable_qr_is_an_invalid_receipt() {
    let fake = fake().await;
    let outcome = client_for(&fake)
        .check_file(b"not a picture".to_vec(), "check.jpg", "image/jpeg")
        .await;
    assert_eq!(outcome.ok(), Some(CheckOutcome::Invalid));
}

#[tokio::test]
async fn a_legacy_receipt_with_per_item_vat_is_served_and_read() {
    let fake = fake().await;
    let built = ReceiptBuilder::new()
        .item("*3606533 MILKA Шок.BUBBLES кокос.нач.97г", 4999, 1)
        .weighted_item("Бананы", 8990, 1.215)
        .legacy();
    fake.register_receipt(&built);

    let receipt = receipt_of(client_for(&fake).check_raw(&built.qr_text()).await);

    assert_eq!(receipt.validate_against(&built.fiscal_qr()), Ok(()));
    assert_eq!(receipt.format_version, None);
    assert!(receipt.items[0].nds18.is_some());
    assert!(receipt.items[1].nds10.is_some());
    assert_eq!(receipt.items[1].items_quantity_measure, None);
}

#[tokio::test]
async fn a_receipt_printed_with_seconds_is_found_with_either_precision() {
    let fake = fake().await;
    let built = ReceiptBuilder::pyaterochka()
        .date_time(
            chrono::NaiveDate::from_ymd_opt(2024, 9, 17)
                .and_then(|d| d.and_hms_opt(18, 1, 37))
                .expect("valid date"),
        )
        .qr_with_seconds();
    fake.register_receipt(&built);
    let client = client_for(&fake);
    let qr = built.fiscal_qr();

    let exact = client.check_raw(&qr.canonical()).await;
    let minutes = client
        .check_manual(&qr.with_time_precision(TimePrecision::Minutes))
        .await;

    assert!(matches!(exact, Ok(CheckOutcome::Receipt(_))));
    assert!(matches!(minutes, Ok(CheckOutcome::Receipt(_))));
}

#[tokio::test]
async fn an_unknown_receipt_is_invalid() {
    let fake = fake().await;
    let unknown = ReceiptBuilder::pyaterochka().fiscal_qr();
    assert_eq!(
        client_for(&fake).check_raw(&unknown.canonical()).await.ok(),
        Some(CheckOutcome::Invalid)
    );
}

#[tokio::test]
async fn requisites_that_do_not_match_the_registered_receipt_are_invalid() {
    let (fake, built) = fake_with_receipt().await;
    let client = client_for(&fake);
    let right = built.qr_text();
    let wrong_sum = right.replace(&format!("s={}", built.total()), "s=1.00");
    let wrong_time = right.replace("T1801", "T1802");
    let refund = right.replace("&n=1", "&n=2");

    for text in [wrong_sum, wrong_time, refund] {
        assert_eq!(
            client.check_raw(&text).await.ok(),
            Some(CheckOutcome::Invalid),
            "{text}"
        );
    }
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn a_text_that_is_not_a_fiscal_qr_is_invalid() {
    let fake = fake().await;
    assert_eq!(
        client_for(&fake)
            .check_raw("https://example.com")
            .await
            .ok(),
        Some(CheckOutcome::Invalid)
    );
}

#[tokio::test]
async fn every_business_code_maps_to_its_outcome() {
    let (fake, built) = fake_with_receipt().await;
    let client = client_for(&fake);
    for (code, expected) in [
        (0, CheckOutcome::Invalid),
        (2, CheckOutcome::NotYetReceived),
        (3, CheckOutcome::QuotaExceeded),
        (4, CheckOutcome::TooSoon),
        (5, CheckOutcome::Failed),
    ] {
        fake.force_next(FakeAnswer::Code(code));
        assert_eq!(
            client.check_raw(&built.qr_text()).await.ok(),
            Some(expected),
            "code {code}"
        );
    }
    // The forced answers are used up: the receipt is served again.
    assert!(matches!(
        client.check_raw(&built.qr_text()).await,
        Ok(CheckOutcome::Receipt(_))
    ));
}

#[tokio::test]
async fn an_answer_forced_for_one_receipt_does_not_touch_another() {
    let fake = fake().await;
    let pending = ReceiptBuilder::pyaterochka();
    let ready = ReceiptBuilder::pyaterochka();
    fake.register_receipt(&pending);
    fake.register_receipt(&ready);
    fake.force_next_for(pending.key(), FakeAnswer::Code(2));
    fake.force_next_for(pending.key(), FakeAnswer::Code(2));
    let client = client_for(&fake);

    assert!(matches!(
        client.check_raw(&ready.qr_text()).await,
        Ok(CheckOutcome::Receipt(_))
    ));
    assert_eq!(
        client.check_raw(&pending.qr_text()).await.ok(),
        Some(CheckOutcome::NotYetReceived)
    );
    assert_eq!(
        client.check_manual(&pending.fiscal_qr()).await.ok(),
        Some(CheckOutcome::NotYetReceived)
    );
    assert!(matches!(
        client.check_raw(&pending.qr_text()).await,
        Ok(CheckOutcome::Receipt(_))
    ));
}

#[tokio::test]
async fn an_unknown_code_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Code(7));
    let outcome = client_for(&fake).check_raw(&built.qr_text()).await;
    assert!(
        matches!(outcome, Err(ProviderError::UnknownCode(7))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_answer_without_code_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Json(json!({ "data": [] })));
    fake.force_next(FakeAnswer::Json(json!({ "code": "one", "data": [] })));
    let client = client_for(&fake);
    for _ in 0..2 {
        let outcome = client.check_raw(&built.qr_text()).await;
        assert!(
            matches!(outcome, Err(ProviderError::MissingCode)),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_numeric_string_code_is_understood() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Json(
        json!({ "code": "2", "data": "данные чека пока не получены" }),
    ));
    assert_eq!(
        client_for(&fake).check_raw(&built.qr_text()).await.ok(),
        Some(CheckOutcome::NotYetReceived)
    );
}

#[tokio::test]
async fn an_empty_body_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::EmptyBody);
    let outcome = client_for(&fake).check_raw(&built.qr_text()).await;
    assert!(
        matches!(outcome, Err(ProviderError::EmptyBody)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::NotJson);
    let outcome = client_for(&fake).check_raw(&built.qr_text()).await;
    assert!(
        matches!(outcome, Err(ProviderError::NotJson { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_http_error_status_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    let client = client_for(&fake);
    for status in [500, 502, 429, 404] {
        fake.force_next(FakeAnswer::HttpStatus(status));
        let outcome = client.check_raw(&built.qr_text()).await;
        assert!(
            matches!(outcome, Err(ProviderError::HttpStatus { status: s, .. }) if s == status),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn code_one_without_a_receipt_is_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::SuccessWithoutReceipt);
    fake.force_next(FakeAnswer::Json(
        json!({ "code": 1, "data": { "json": { "totalSum": 1 } } }),
    ));
    let client = client_for(&fake);
    for _ in 0..2 {
        let outcome = client.check_raw(&built.qr_text()).await;
        assert!(
            matches!(outcome, Err(ProviderError::MissingReceipt)),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn code_one_with_an_unusable_receipt_is_a_provider_fault() {
    let fake = fake().await;
    let built = ReceiptBuilder::pyaterochka();
    let mut broken = built.fns_json();
    broken.as_object_mut().map(|o| o.remove("fiscalSign"));
    fake.register(&built.qr_text(), broken);

    let outcome = client_for(&fake).check_raw(&built.qr_text()).await;

    assert!(
        matches!(outcome, Err(ProviderError::InvalidReceipt(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_as_a_provider_fault() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Slow(Duration::from_secs(3)));
    let impatient = ProverkaChekaClient::new(
        &fake.base_url(),
        TOKEN.to_owned(),
        Duration::from_millis(200),
    )
    .expect("the client builds");

    let outcome = impatient.check_raw(&built.qr_text()).await;

    assert!(
        matches!(outcome, Err(ProviderError::Timeout)),
        "{outcome:?}"
    );
    assert!(outcome.is_err_and(|e| e.is_transient()));
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_still_served() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Slow(Duration::from_millis(100)));
    assert!(matches!(
        client_for(&fake).check_raw(&built.qr_text()).await,
        Ok(CheckOutcome::Receipt(_))
    ));
}

#[tokio::test]
async fn an_unreachable_service_is_a_provider_fault() {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("an address")
    };
    let client = ProverkaChekaClient::new(
        &format!("http://{address}"),
        TOKEN.to_owned(),
        Duration::from_secs(2),
    )
    .expect("the client builds");
    let outcome = client.check_raw("t=1").await;
    assert!(
        matches!(
            outcome,
            Err(ProviderError::Transport(_) | ProviderError::Timeout)
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_http_401_and_still_counted() {
    let (fake, built) = fake_with_receipt().await;
    let stranger = ProverkaChekaClient::new(
        &fake.base_url(),
        "1.wrong".to_owned(),
        Duration::from_secs(5),
    )
    .expect("the client builds");

    let outcome = stranger.check_raw(&built.qr_text()).await;

    assert!(
        matches!(outcome, Err(ProviderError::HttpStatus { status: 401, .. })),
        "{outcome:?}"
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn no_call_is_counted_until_the_client_asks() {
    let (fake, built) = fake_with_receipt().await;
    let _client = client_for(&fake);
    let _qr = FiscalQr::parse(&built.qr_text()).expect("valid");
    assert_eq!(fake.calls(), 0);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_urlencoded_raw_request_gets_the_full_envelope_with_the_lowercased_echo() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();

    let first = post_urlencoded(&fake, &[("token", TOKEN), ("qrraw", &built.qr_text())]).await;
    let again = post_urlencoded(&fake, &[("token", TOKEN), ("qrraw", &built.qr_text())]).await;

    assert_eq!(first["code"], json!(1));
    assert_eq!(first["first"], json!(1));
    assert_eq!(again["first"], json!(0));
    assert_eq!(first["data"]["json"], built.fns_json());
    let html = first["data"]["html"].as_str().expect("html is a string");
    assert!(
        html.starts_with("<table class=\"b-check_table table\">"),
        "{html}"
    );
    assert!(
        html.contains("/qrcode/generate?text=t%3D20240917T1801"),
        "{html}"
    );
    assert_eq!(
        first["request"]["qrraw"],
        json!(built.qr_text().to_lowercase())
    );
    assert_eq!(first["request"]["qrurl"], json!(""));
    assert_eq!(
        first["request"]["manual"],
        json!({
            "fn": qr.fiscal_drive_number(),
            "fd": qr.fiscal_document_number().to_string(),
            "fp": qr.fiscal_sign().to_string(),
            "check_time": "20240917t1801",
            "type": "1",
            "sum": qr.sum().to_string(),
        })
    );
    assert!(!fake.requests()[0].is_multipart());
    assert_eq!(fake.requests()[0].form(), RequestForm::QrRaw);
}

#[tokio::test]
async fn a_urlencoded_manual_request_is_understood() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();
    let fd = qr.fiscal_document_number().to_string();
    let fp = qr.fiscal_sign().to_string();
    let sum = qr.sum().to_string();

    let answer = post_urlencoded(
        &fake,
        &[
            ("token", TOKEN),
            ("fn", qr.fiscal_drive_number()),
            ("fd", &fd),
            ("fp", &fp),
            ("t", "20240917T1801"),
            ("n", "1"),
            ("s", &sum),
            ("qr", "0"),
        ],
    )
    .await;

    assert_eq!(answer["code"], json!(1));
    assert_eq!(
        answer["request"]["manual"]["check_time"],
        json!("20240917t1801")
    );
    assert_eq!(fake.requests()[0].form(), RequestForm::Manual);
}

#[tokio::test]
async fn a_manual_request_without_time_or_sum_gets_an_empty_body() {
    let (fake, built) = fake_with_receipt().await;
    let qr = built.fiscal_qr();
    let fd = qr.fiscal_document_number().to_string();
    let fp = qr.fiscal_sign().to_string();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/check/get", fake.base_url()))
        .form(&[
            ("token", TOKEN),
            ("fn", qr.fiscal_drive_number()),
            ("fd", &fd),
            ("fp", &fp),
            ("n", "1"),
        ])
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("a body"), "");
}

#[tokio::test]
async fn error_codes_carry_an_empty_data_array() {
    let (fake, built) = fake_with_receipt().await;
    fake.force_next(FakeAnswer::Code(3));
    let answer = post_urlencoded(&fake, &[("token", TOKEN), ("qrraw", &built.qr_text())]).await;
    assert_eq!(answer["code"], json!(3));
    assert_eq!(answer["data"], json!([]));
}

#[tokio::test]
async fn unregistered_receipts_can_be_made_up_for_sandbox_mode() {
    let fake = fake().await;
    fake.answer_unregistered_with(|qr| {
        Some(
            ReceiptBuilder::new()
                .fiscal(
                    qr.fiscal_drive_number(),
                    qr.fiscal_document_number(),
                    qr.fiscal_sign(),
                )
                .item("Чипсы", qr.sum().get(), 1)
                .fns_json(),
        )
    });
    let qr = FiscalQr::parse("t=20240917T1801&s=189.99&fn=7281440500751551&i=42&fp=123456789&n=1")
        .expect("valid");

    let receipt = receipt_of(client_for(&fake).check_raw(&qr.canonical()).await);

    assert_eq!(receipt.validate_against(&qr), Ok(()));
}

#[tokio::test]
async fn the_client_debug_output_never_shows_the_token() {
    let fake = fake().await;
    let shown = format!("{:?}", client_for(&fake));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("AbCdEf"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn an_invalid_base_url_is_refused_when_building_the_client() {
    assert!(
        ProverkaChekaClient::new("not a url", TOKEN.to_owned(), Duration::from_secs(1)).is_err()
    );
}

#[tokio::test]
async fn clones_of_the_fake_share_its_state() {
    let (fake, built) = fake_with_receipt().await;
    let clone = fake.clone();
    let _ = client_for(&clone).check_raw(&built.qr_text()).await;
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn a_malformed_multipart_body_is_refused_but_still_counted() {
    let fake = fake().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/check/get", fake.base_url()))
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\ngarbage")
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status(), 400);
    assert_eq!(fake.calls(), 1);
    assert_eq!(fake.requests()[0].form(), RequestForm::None);
}
