//! Image uploads through the panel's API: JPEG, PNG and WebP judged by content and
//! served back byte for byte, everything else refused with nothing stored, 413 over
//! 10 MB, roles and CSRF, one upload per content and bot, a broadcast that transfers the
//! bytes once and the `file_id` to everyone else, and the S3 backend against moto.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::ImageFormat;
use promo_testkit::{spawn_app, spawn_app_with, TestApp, TestConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{api, operator, registered_shopper, sqs_endpoint, Operator};

/// A real little picture in `format`, different for each `seed`.
fn picture(format: ImageFormat, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 9) as u8 ^ seed, (y * 13) as u8, seed.wrapping_mul(31)])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// POSTs `bytes` to `/api/uploads` as `who`, declared as `content_type`.
async fn upload(
    app: &TestApp,
    who: &Operator,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .header(COOKIE, &who.cookie)
        .header("X-CSRF-Token", &who.csrf)
        .body(bytes);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let response = request.send().await.expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `(uploads rows, upload_blobs rows, upload.create audit rows)` of the whole database.
async fn stored(app: &TestApp) -> (i64, i64, i64) {
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM upload_blobs),
                    (SELECT count(*) FROM audit_log WHERE action = 'upload.create')",
            &[],
        )
        .await
        .expect("counts");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_jpeg_a_png_and_a_webp_are_stored_and_served_back_byte_for_byte_with_their_type() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    let viewer = operator(&app, "vlad", "viewer").await;
    let mut ids = Vec::new();
    for (format, content_type, declared) in [
        (ImageFormat::Jpeg, "image/jpeg", "image/jpeg"),
        (ImageFormat::Png, "image/png", "image/png"),
        // The declared type does not count: the content says WebP.
        (ImageFormat::WebP, "image/webp", "application/octet-stream"),
    ] {
        let bytes = picture(format, 40, 30, 1);
        let (status, body) = upload(&app, &manager, Some(declared), bytes.clone()).await;
        assert_eq!(status, 201, "{content_type}: {body}");
        assert_eq!(body["content_type"], content_type);
        assert_eq!(
            (body["width"].clone(), body["height"].clone()),
            (json!(40), json!(30))
        );
        assert_eq!(body["bytes"], json!(bytes.len()));
        assert_eq!(body["sha256"].as_str().map(str::len), Some(64));
        let id = body["id"].as_i64().expect("id");
        assert_eq!(body["url"], format!("/api/uploads/{id}"));
        assert_eq!(body["photo"], format!("upload:{id}"));
        assert_eq!(body["created_by"], "panel:mila");

        // A viewer reads it back: the same bytes, the detected type, never sniffed.
        let response = reqwest::Client::new()
            .get(app.url(&format!("/api/uploads/{id}")))
            .header(COOKIE, &viewer.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], content_type);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let cache = headers[CACHE_CONTROL]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            cache.contains("private") && cache.contains("max-age=31536000"),
            "{cache}"
        );
        assert_eq!(response.bytes().await.expect("bytes").to_vec(), bytes);
        ids.push(id);
    }
    let (status, page) = api(&app, &viewer, Method::GET, "/api/uploads?limit=2", None).await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<i64> = page["uploads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_i64())
        .collect();
    assert_eq!(listed, [ids[2], ids[1]]);
    let before = page["next_before_id"].as_i64().expect("a next page");
    let (_, rest) = api(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/uploads?before_id={before}"),
        None,
    )
    .await;
    assert_eq!(rest["uploads"][0]["id"], ids[0]);
    assert_eq!(rest["next_before_id"], Value::Null);
    let (status, body) = api(&app, &viewer, Method::GET, "/api/uploads?limit=0", None).await;
    assert_eq!((status, body["field"].clone()), (400, json!("limit")));
    // One audit row per upload, naming it.
    let client = app.db().await.expect("db");
    let targets: Vec<String> = client
        .query(
            "SELECT target FROM audit_log WHERE action = 'upload.create' ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<String> = ids.iter().map(|id| format!("upload:{id}")).collect();
    assert_eq!(targets, expected);
    let (status, body) = api(&app, &viewer, Method::GET, "/api/uploads/987654", None).await;
    assert_eq!((status, body["error"].clone()), (404, json!("not_found")));
}

#[tokio::test]
async fn html_named_jpg_a_truncated_png_an_empty_body_and_a_gif_are_refused_and_store_nothing() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    let png = picture(ImageFormat::Png, 64, 64, 2);
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        (
            "an HTML page sent as a JPEG",
            Some("image/jpeg"),
            b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec(),
            415,
        ),
        (
            "half a PNG",
            Some("image/png"),
            png[..png.len() / 2].to_vec(),
            400,
        ),
        (
            "a PNG's signature and header only",
            Some("image/png"),
            png[..33].to_vec(),
            400,
        ),
        ("an empty body", Some("image/png"), Vec::new(), 400),
        ("a GIF", Some("image/gif"), gif, 415),
        (
            "a strip Telegram refuses as a photo",
            Some("image/png"),
            picture(ImageFormat::Png, 420, 20, 3),
            400,
        ),
        (
            "a form instead of the file",
            Some("multipart/form-data; boundary=x"),
            png.clone(),
            415,
        ),
    ];
    for (what, content_type, bytes, expected) in cases {
        let (status, body) = upload(&app, &manager, content_type, bytes).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(body["message"].is_string(), "{what}: {body}");
        assert!(body["field"].is_string(), "{what}: {body}");
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_body_over_ten_megabytes_gets_a_json_413_not_a_dropped_connection() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    // A real PNG header, then padding past the limit: refused for its size alone.
    let mut big = picture(ImageFormat::Png, 8, 8, 4);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let started = Instant::now();
    let (status, body) = upload(&app, &manager, Some("image/png"), big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "payload_too_large");
    assert_eq!(body["field"], "body");
    // Streamed without a length: refused as the count passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..11).map(|_| Ok(vec![7u8; 1024 * 1024])).collect();
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .header(COOKIE, &manager.cookie)
        .header("X-CSRF-Token", &manager.csrf)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "payload_too_large");
    println!("two 413s over 10 MiB bodies in {:?}", started.elapsed());
    // Exactly 10 MiB is within the limit: refused only for not being an image.
    let (status, body) = upload(
        &app,
        &manager,
        Some("image/png"),
        vec![0u8; 10 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_viewer_cannot_upload_and_an_upload_without_the_csrf_token_is_refused() {
    let app = spawn_app().await.expect("app");
    let viewer = operator(&app, "vlad", "viewer").await;
    let manager = operator(&app, "mila", "manager").await;
    let png = picture(ImageFormat::Png, 16, 16, 5);
    let (status, body) = upload(&app, &viewer, Some("image/png"), png.clone()).await;
    assert_eq!(
        (status, body["error"].clone()),
        (403, json!("forbidden")),
        "{body}"
    );
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .header(COOKIE, &manager.cookie)
        .header(CONTENT_TYPE, "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 403);
    let response = reqwest::Client::new()
        .post(app.url("/api/uploads"))
        .header(CONTENT_TYPE, "image/png")
        .body(png)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_are_one_upload() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    let other = operator(&app, "olga", "owner").await;
    let jpeg = picture(ImageFormat::Jpeg, 50, 50, 6);
    let (status, first) = upload(&app, &manager, Some("image/jpeg"), jpeg.clone()).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = upload(&app, &other, None, jpeg.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    // Several at once are still one.
    let racing = futures::future::join_all(
        (0..4).map(|_| upload(&app, &manager, Some("image/jpeg"), jpeg.clone())),
    )
    .await;
    assert!(racing
        .iter()
        .all(|(status, body)| *status == 200 && body["id"] == first["id"]));
    let (status, different) = upload(
        &app,
        &manager,
        Some("image/jpeg"),
        picture(ImageFormat::Jpeg, 50, 50, 7),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(different["id"], first["id"]);
    assert_eq!(stored(&app).await, (2, 2, 2));
}

#[tokio::test]
async fn another_bots_upload_is_neither_listed_nor_served_nor_sendable_and_a_missing_one_is_refused(
) {
    let first = spawn_app().await.expect("app");
    // A second bot on the same database: its own slug, so its own bot row.
    let second = spawn_app_with(TestConfig::default().with("DATABASE_URL", &first.database_url))
        .await
        .expect("second bot");
    assert_ne!(first.app.bot_id, second.app.bot_id);
    let mine = operator(&first, "mila", "manager").await;
    let theirs = operator(&second, "mila", "manager").await;
    let (status, body) = upload(
        &first,
        &mine,
        Some("image/png"),
        picture(ImageFormat::Png, 20, 20, 8),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (status, _) = api(
        &second,
        &theirs,
        Method::GET,
        &format!("/api/uploads/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, page) = api(&second, &theirs, Method::GET, "/api/uploads", None).await;
    assert_eq!(page["uploads"], json!([]));
    for photo in [
        format!("upload:{id}"),
        "upload:99999".to_owned(),
        "upload:abc".to_owned(),
    ] {
        let (status, body) = api(
            &second,
            &theirs,
            Method::POST,
            "/api/campaigns",
            Some(json!({"kind": "broadcast", "text": "Призы", "photo": photo})),
        )
        .await;
        assert_eq!(
            (status, body["field"].clone()),
            (400, json!("photo")),
            "{photo}: {body}"
        );
    }
    // A direct message takes an upload too, and is refused the same way without one.
    let shopper = registered_shopper(&first, 424_242, "Ира", None, "+79990001122").await;
    let path = format!("/api/users/{shopper}/message");
    let (status, body) = api(
        &first,
        &mine,
        Method::POST,
        &path,
        Some(json!({"text": "Привет", "photo": "upload:99999"})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (400, json!("photo")),
        "{body}"
    );
    let (status, body) = api(
        &first,
        &mine,
        Method::POST,
        &path,
        Some(json!({"text": "Привет", "photo": format!("upload:{id}")})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let campaigns: i64 = second
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT count(*) FROM campaigns WHERE bot_id = $1",
            &[&second.app.bot_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(campaigns, 0, "nothing was created for the second bot");
}

#[tokio::test]
async fn a_broadcast_with_an_uploaded_photo_transfers_its_bytes_once_and_the_file_id_to_everyone_else(
) {
    const SHOPPERS: i64 = 6;
    let app = spawn_app_with(TestConfig::default().with_workers())
        .await
        .expect("app");
    let bot = app.app.bot_id;
    app.db()
        .await
        .expect("db")
        .batch_execute(&format!(
            "INSERT INTO users (bot_id, telegram_id, first_name, status, registered_at, language)
             SELECT {bot}, 8100 + n, 'S', 'registered', now(), 'ru'
             FROM generate_series(1, {SHOPPERS}) AS n"
        ))
        .await
        .expect("shoppers");
    let manager = operator(&app, "mila", "manager").await;
    let bytes = picture(ImageFormat::Jpeg, 120, 80, 9);
    let (status, uploaded) = upload(&app, &manager, Some("image/jpeg"), bytes.clone()).await;
    assert_eq!(status, 201, "{uploaded}");
    let (status, created) = api(
        &app,
        &manager,
        Method::POST,
        "/api/campaigns",
        Some(json!({
            "kind": "broadcast",
            "text": "Главный приз недели",
            "photo": uploaded["photo"],
            "audience": {"segment": "all"}
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["campaign"]["id"].as_i64().expect("id");
    let deadline = Instant::now() + Duration::from_secs(20);
    let detail = loop {
        let (_, detail) = api(
            &app,
            &manager,
            Method::GET,
            &format!("/api/campaigns/{id}"),
            None,
        )
        .await;
        if detail["campaign"]["status"] == "completed" || Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(detail["campaign"]["status"], "completed", "{detail}");
    assert_eq!(detail["campaign"]["sent"], SHOPPERS);

    let sends: Vec<_> = app
        .telegram
        .calls_to("sendPhoto")
        .into_iter()
        .filter(|call| call.status == 200)
        .collect();
    assert_eq!(sends.len() as i64, SHOPPERS);
    let transfers: Vec<_> = sends
        .iter()
        .filter(|call| call.params["photo"]["file"].is_object())
        .collect();
    assert_eq!(transfers.len(), 1, "exactly one multipart upload");
    assert_eq!(
        transfers[0].params["photo"]["file"]["len"],
        json!(bytes.len())
    );
    assert_eq!(transfers[0].params["caption"], "Главный приз недели");
    // What arrived at "Telegram" is the upload, byte for byte.
    let sizes = transfers[0].result().expect("a message")["photo"].clone();
    let file_id = sizes
        .as_array()
        .and_then(|sizes| sizes.last())
        .and_then(|size| size["file_id"].as_str())
        .expect("a file_id")
        .to_owned();
    assert_eq!(
        app.telegram.file_bytes(&file_id).map(|b| b.to_vec()),
        Some(bytes)
    );
    let by_id: Vec<_> = sends
        .iter()
        .filter(|call| call.params["photo"] == json!(file_id))
        .collect();
    assert_eq!(by_id.len() as i64, SHOPPERS - 1, "everyone else by file_id");
    let chats: std::collections::BTreeSet<i64> = sends
        .iter()
        .filter_map(|call| call.params["chat_id"].as_i64())
        .collect();
    assert_eq!(chats.len() as i64, SHOPPERS);
}

/// A fresh bucket on the moto server, which speaks S3 as well as SQS.
async fn moto_bucket() -> (String, promo_core::uploads::S3ImageStore) {
    let endpoint = sqs_endpoint();
    let bucket = format!(
        "uploads-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let store =
        promo_core::uploads::S3ImageStore::connect(&bucket, Some(&endpoint), "eu-central-1").await;
    store
        .ensure_bucket()
        .await
        .unwrap_or_else(|e| panic!("moto must run at {endpoint} (PROMO_TEST_SQS_ENDPOINT): {e:#}"));
    (bucket, store)
}

#[tokio::test]
async fn with_a_bucket_set_the_bytes_live_in_s3_and_come_back_identical() {
    use promo_core::uploads::ImageStore;
    let (bucket, store) = moto_bucket().await;
    let app = spawn_app_with(
        TestConfig::default()
            .with("UPLOADS_BUCKET", &bucket)
            .with("UPLOADS_S3_ENDPOINT_URL", &sqs_endpoint())
            .with("AWS_REGION", "eu-central-1"),
    )
    .await
    .expect("app");
    let manager = operator(&app, "mila", "manager").await;
    let webp = picture(ImageFormat::WebP, 33, 44, 10);
    let (status, body) = upload(&app, &manager, Some("image/webp"), webp.clone()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().expect("id");
    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/uploads/{id}")))
        .header(COOKIE, &manager.cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "image/webp");
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), webp);
    // In the bucket under the content's key; only the metadata in Postgres.
    let row = app
        .db()
        .await
        .expect("db")
        .query_one(
            "SELECT storage, storage_key FROM uploads WHERE id = $1",
            &[&id],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, String>(0), "s3");
    let key: String = row.get(1);
    assert_eq!(
        store.get(&key).await.expect("S3").map(|b| b.to_vec()),
        Some(webp.clone())
    );
    assert_eq!(stored(&app).await, (1, 0, 1));
    let (status, again) = upload(&app, &manager, Some("image/webp"), webp).await;
    assert_eq!((status, again["id"].clone()), (200, json!(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_with_any_content_type_never_get_a_5xx_and_never_store() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    let png = picture(ImageFormat::Png, 12, 12, 11);
    let runtime = tokio::runtime::Handle::current();
    let content_types = prop_oneof![
        Just(None),
        Just(Some("image/png".to_owned())),
        Just(Some("image/jpeg".to_owned())),
        Just(Some("image/webp".to_owned())),
        Just(Some("application/octet-stream".to_owned())),
        Just(Some("text/html".to_owned())),
        Just(Some("application/json".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ];
    // Pure noise, or a real PNG cut, flipped or with noise after its signature.
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        (0..png.len(), any::<u8>()).prop_map({
            let png = png.clone();
            move |(at, flip)| {
                let mut bytes = png.clone();
                bytes.truncate(at);
                if let Some(last) = bytes.last_mut() {
                    *last ^= flip | 1;
                }
                bytes
            }
        }),
        proptest::collection::vec(any::<u8>(), 0..2048).prop_map({
            let png = png.clone();
            move |noise| [&png[..16], &noise[..]].concat()
        }),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let url = app.url("/api/uploads");
    let result = runner.run(&(content_types, bodies), |(content_type, body)| {
        let status = tokio::task::block_in_place(|| {
            runtime.block_on(async {
                let mut request = reqwest::Client::new()
                    .post(&url)
                    .header(COOKIE, &manager.cookie)
                    .header("X-CSRF-Token", &manager.csrf)
                    .timeout(Duration::from_secs(10))
                    .body(body.clone());
                if let Some(content_type) = &content_type {
                    request = request.header(CONTENT_TYPE, content_type.as_str());
                }
                request.send().await.map(|r| r.status().as_u16())
            })
        });
        let status = status.map_err(|e| TestCaseError::fail(format!("request failed: {e}")))?;
        prop_assert!(
            (400..500).contains(&status),
            "{content_type:?} with {} bytes → {status}",
            body.len()
        );
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert_eq!(stored(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn the_openapi_document_describes_the_upload_body_and_answer_as_the_image_itself() {
    let app = spawn_app().await.expect("app");
    let document: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .expect("document")
        .json()
        .await
        .expect("JSON");
    let create = &document["paths"]["/api/uploads"]["post"];
    let body = create["requestBody"]["content"]
        .as_object()
        .expect("a body");
    for content_type in ["image/jpeg", "image/png", "image/webp"] {
        assert!(body.contains_key(content_type), "{content_type}: {body:?}");
        assert!(
            document["paths"]["/api/uploads/{id}"]["get"]["responses"]["200"]["content"]
                [content_type]
                .is_object(),
            "GET serves {content_type}"
        );
    }
    assert!(!body.contains_key("application/json"));
    assert!(create["responses"]["413"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("10 MiB")));
    assert_eq!(create["x-role"], "manager");
}

#[tokio::test]
async fn a_large_photo_is_judged_stored_and_served_within_two_seconds_each_way() {
    let app = spawn_app().await.expect("app");
    let manager = operator(&app, "mila", "manager").await;
    // A camera-sized picture with enough detail to weigh megabytes as a JPEG.
    let (width, height) = (4000, 3000);
    let mut seed = 0x2545_F491_u32;
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed & 0x1F) as u8;
        image::Rgb([
            ((x / 16) as u8).wrapping_add(noise),
            ((y / 12) as u8).wrapping_add(noise),
            noise.wrapping_mul(3),
        ])
    });
    let mut jpeg = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut jpeg, ImageFormat::Jpeg)
        .expect("encode");
    let jpeg = jpeg.into_inner();
    assert!(
        jpeg.len() > 2_000_000 && jpeg.len() <= 10 * 1024 * 1024,
        "{}",
        jpeg.len()
    );
    let started = Instant::now();
    let (status, body) = upload(&app, &manager, Some("image/jpeg"), jpeg.clone()).await;
    let stored_in = started.elapsed();
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().expect("id");
    let started = Instant::now();
    let served = reqwest::Client::new()
        .get(app.url(&format!("/api/uploads/{id}")))
        .header(COOKIE, &manager.cookie)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    let served_in = started.elapsed();
    assert_eq!(served.len(), jpeg.len());
    println!(
        "a {width}x{height} JPEG of {} bytes: judged and stored in {stored_in:?}, served in {served_in:?}",
        jpeg.len()
    );
    assert!(stored_in < Duration::from_secs(2), "{stored_in:?}");
    assert!(served_in < Duration::from_secs(2), "{served_in:?}");
}
