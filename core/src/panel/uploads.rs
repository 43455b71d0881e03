//! Images for broadcasts (and later raffles): `POST /api/uploads` takes the file itself
//! as the body (what a browser `fetch(url, {method: "POST", body: file})` sends), checks
//! it by content ([`crate::uploads::inspect`]), stores it once per bot and content, and
//! answers its id; `GET /api/uploads` lists them, `GET /api/uploads/{id}` serves one.
//! A campaign or a direct message sends one with `photo: "upload:<id>"`.

use std::time::Duration;

use axum::body::Body as RawBody;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    ETAG, LOCATION, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use promo_api_types::panel::{UploadInfo, UploadPage};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use super::session::{Role, Session};
use super::{db, internal, next_before, page_limit, timestamp, Params};
use crate::api_error::ApiError;
use crate::app::AdminApi;
use crate::campaigns::content::{upload_id, UPLOAD_PHOTO_PREFIX};
use crate::uploads::inspect::{inspect, Refusal, MAX_UPLOAD_BYTES};
use crate::uploads::{self, NewUpload, Upload};

pub(super) fn routes() -> Router<AdminApi> {
    Router::new()
        .route("/api/uploads", get(list).post(create))
        .route("/api/uploads/{id}", get(show))
}

const MAX_PAGE: i64 = 100;
/// How much of a body over the limit is read (and dropped) before the 413, so the
/// client, still sending, gets the answer rather than a reset connection; a client
/// sending more than this is cut off.
const DRAIN_AT_MOST: usize = 64 * 1024 * 1024;
const DRAIN_FOR: Duration = Duration::from_secs(30);
/// A decode of a large image takes up to ~100 MB and a core for a moment: at most this
/// many at once per process.
static INSPECTIONS: Semaphore = Semaphore::const_new(2);
/// Content-addressed: what an id serves never changes, so browsers may keep it.
const CACHE: &str = "private, max-age=31536000, immutable";

fn info_of(upload: &Upload) -> UploadInfo {
    UploadInfo {
        id: upload.id,
        content_type: upload.content_type.clone(),
        bytes: i64::from(upload.bytes),
        width: upload.width,
        height: upload.height,
        sha256: upload.sha256.clone(),
        url: format!("/api/uploads/{}", upload.id),
        photo: format!("{UPLOAD_PHOTO_PREFIX}{}", upload.id),
        created_by: upload.actor.clone(),
        created_at: timestamp(upload.created_at),
    }
}

fn too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "an image may have at most {MAX_UPLOAD_BYTES} bytes (10 MiB)"
    ))
    .field("body")
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
    .field("body")
}

/// A declared type the file may have: an image type, a generic binary one, or none (a
/// browser sends none for a file it cannot name). The content decides what it is.
fn check_declared_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(declared) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let declared = declared
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if declared.starts_with("image/") || declared == "application/octet-stream" {
        Ok(())
    } else {
        Err(unsupported(
            "send the image file itself as the body, with Content-Type image/jpeg, image/png \
             or image/webp",
        )
        .field("Content-Type"))
    }
}

/// The body, at most [`MAX_UPLOAD_BYTES`]; a larger one is read on (up to
/// [`DRAIN_AT_MOST`]) and dropped, then refused with a 413.
async fn read_body(headers: &HeaderMap, body: RawBody) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|length| length > MAX_UPLOAD_BYTES as u64) {
        drain(stream, 0).await;
        return Err(too_large());
    }
    let capacity = declared.map_or(64 * 1024, |length| length as usize);
    let mut buffer = BytesMut::with_capacity(capacity);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the body could not be read"))?;
        if buffer.len() + chunk.len() > MAX_UPLOAD_BYTES {
            drain(stream, buffer.len() + chunk.len()).await;
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

async fn drain(mut stream: axum::body::BodyDataStream, mut read: usize) {
    let _ = tokio::time::timeout(DRAIN_FOR, async {
        while read < DRAIN_AT_MOST {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::TooLarge => too_large(),
        Refusal::NotAnImage => unsupported(refusal.to_string()),
        Refusal::Empty | Refusal::Damaged(_) | Refusal::Dimensions { .. } => {
            ApiError::bad_request(refusal.to_string()).field("body")
        }
    }
}

/// Upload an image: the file itself as the body (manager; audited).
///
/// JPEG, PNG or WebP by content (the declared type and the file's name do not count),
/// at most 10 MiB, within Telegram's limits for a photo. The same bytes uploaded again
/// answer the upload already stored, with a 200.
#[utoipa::path(
    post,
    path = "/api/uploads",
    tag = "uploads",
    extensions(("x-role" = json!("manager"))),
    request_body(
        description = "the image file itself (not a form)",
        content(
            ([u8] = "image/jpeg"),
            ([u8] = "image/png"),
            ([u8] = "image/webp"),
            ([u8] = "application/octet-stream"),
        )
    ),
    responses(
        (status = 201, description = "stored; `Location` names it", body = promo_api_types::panel::UploadInfo),
        (status = 200, description = "the bot has these bytes already: that upload", body = promo_api_types::panel::UploadInfo),
        (status = 400, description = "empty, damaged or incomplete, or a size Telegram refuses for a photo (field `body`)", body = promo_api_types::ApiError),
        (status = 413, description = "larger than 10 MiB (field `body`)", body = promo_api_types::ApiError),
        (status = 415, description = "not a JPEG, PNG or WebP by its content (field `body`), or a Content-Type that is not an image's (field `Content-Type`)", body = promo_api_types::ApiError),
    )
)]
async fn create(
    State(api): State<AdminApi>,
    session: Session,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    session.require(Role::Manager)?;
    check_declared_type(&headers)?;
    let bytes = read_body(&headers, body).await?;
    let info = {
        let _turn = INSPECTIONS
            .acquire()
            .await
            .map_err(|e| internal(anyhow::Error::from(e)))?;
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || inspect(&bytes))
            .await
            .map_err(|e| internal(anyhow::Error::from(e)))?
            .map_err(refused)?
    };
    let digest = uploads::sha256(&bytes);
    let mut client = api.pool.get().await.map_err(db)?;
    if let Some(existing) = uploads::find_by_digest(&client, api.bot_id, &digest)
        .await
        .map_err(internal)?
    {
        return Ok(Json(info_of(&existing)).into_response());
    }
    let key = uploads::storage_key(api.bot_id, &digest);
    let store = api.images.store.clone();
    // The bytes first: a row that commits always names bytes that are there.
    store
        .put(&key, info.content_type, bytes.clone())
        .await
        .map_err(internal)?;
    let tx = client.transaction().await.map_err(db)?;
    let new = NewUpload {
        sha256: &digest,
        content_type: info.content_type,
        // Within MAX_UPLOAD_BYTES, so it fits; the sides within MAX_SIDES.
        bytes: i32::try_from(bytes.len()).unwrap_or(i32::MAX),
        width: i32::try_from(info.width).unwrap_or(i32::MAX),
        height: i32::try_from(info.height).unwrap_or(i32::MAX),
        storage: store.backend(),
        storage_key: &key,
    };
    let Some(upload) = uploads::insert(&tx, api.bot_id, &session.actor(), &new)
        .await
        .map_err(internal)?
    else {
        // The same image uploaded at the same moment: the other request stored it.
        drop(tx);
        let existing = uploads::find_by_digest(&client, api.bot_id, &digest)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal(anyhow::anyhow!("an upload vanished after a conflict")))?;
        return Ok(Json(info_of(&existing)).into_response());
    };
    crate::audit::record(
        &tx,
        api.bot_id,
        &session.actor(),
        "upload.create",
        &format!("upload:{}", upload.id),
        &json!({
            "content_type": upload.content_type,
            "bytes": upload.bytes,
            "width": upload.width,
            "height": upload.height,
            "sha256": upload.sha256,
            "storage": upload.storage,
        }),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(db)?;
    let info = info_of(&upload);
    let location = HeaderValue::from_str(&info.url).map_err(|e| internal(e.into()))?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(info)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Continue a list: the `next_before_id` of the page before.
    before_id: Option<i64>,
    /// Page size, 1 to 100 (50).
    limit: Option<i64>,
}

/// The bot's uploads, newest first.
#[utoipa::path(
    get,
    path = "/api/uploads",
    tag = "uploads",
    extensions(("x-role" = json!("viewer"))),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of uploads", body = promo_api_types::panel::UploadPage),
        (status = 400, description = "`limit` is out of range (field named)", body = promo_api_types::ApiError),
    )
)]
async fn list(
    State(api): State<AdminApi>,
    session: Session,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    let client = api.pool.get().await.map_err(db)?;
    let rows = uploads::list(&client, api.bot_id, query.before_id, limit)
        .await
        .map_err(internal)?;
    let uploads: Vec<UploadInfo> = rows.iter().map(info_of).collect();
    let next_before_id = next_before(uploads.iter().map(|u| u.id), limit);
    Ok(Json(UploadPage {
        uploads,
        next_before_id,
    })
    .into_response())
}

/// One upload's image: its bytes with its content type.
#[utoipa::path(
    get,
    path = "/api/uploads/{id}",
    tag = "uploads",
    extensions(("x-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "the upload's id")),
    responses(
        (status = 200, description = "the image, `X-Content-Type-Options: nosniff`, cacheable privately for a year (an id's bytes never change)",
            content(([u8] = "image/jpeg"), ([u8] = "image/png"), ([u8] = "image/webp"))),
        (status = 404, description = "no such upload for this bot", body = promo_api_types::ApiError),
    )
)]
async fn show(
    State(api): State<AdminApi>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    session.require(Role::Viewer)?;
    let client = api.pool.get().await.map_err(db)?;
    let upload = uploads::find(&client, api.bot_id, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found(format!("no upload {id}")))?;
    drop(client);
    let bytes = uploads::bytes_of(&api.images, &upload)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found(format!("the image of upload {id} is gone")))?;
    let file = uploads::UploadFile {
        id: upload.id,
        content_type: upload.content_type.clone(),
        bytes,
    };
    let header = |value: String| HeaderValue::from_str(&value).map_err(|e| internal(e.into()));
    Ok((
        [
            (CONTENT_TYPE, header(file.content_type.clone())?),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (CACHE_CONTROL, HeaderValue::from_static(CACHE)),
            (ETAG, header(format!("\"{}\"", upload.sha256))?),
            (
                CONTENT_DISPOSITION,
                header(format!("inline; filename=\"{}\"", file.file_name()))?,
            ),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

/// Checks a campaign's or a direct message's `photo` that names an upload: it must be
/// `upload:<id>` of one of this bot's uploads (a 400 naming `photo` otherwise). Other
/// photos (URLs, `file_id`s) pass untouched.
pub(super) async fn check_photo(api: &AdminApi, photo: &str) -> Result<(), ApiError> {
    if !photo.starts_with(UPLOAD_PHOTO_PREFIX) {
        return Ok(());
    }
    let Some(id) = upload_id(photo) else {
        return Err(
            ApiError::bad_request("photo must be upload:<id> with the id of an upload")
                .field("photo"),
        );
    };
    let client = api.pool.get().await.map_err(db)?;
    match uploads::find(&client, api.bot_id, id)
        .await
        .map_err(internal)?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::bad_request(format!("there is no upload {id}")).field("photo")),
    }
}
