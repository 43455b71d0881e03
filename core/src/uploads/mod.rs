//! Images operators upload (broadcast photos, raffle prizes and win messages):
//! the metadata in `uploads` (this module is its only writer, and of `upload_blobs`
//! through [`store::PostgresImageStore`]), the bytes behind the [`store::ImageStore`]
//! port, and the content check ([`inspect`]) that decides what an upload is.
//!
//! An upload is addressed by its content: the same bytes uploaded twice to one bot are
//! one upload. Its bytes are written before its row, so a row never names bytes that
//! are missing; a campaign refers to one as `upload:<id>` in its `photo`.

#[cfg(feature = "http")]
pub mod inspect;
pub mod store;

use anyhow::Context;
use bytes::Bytes;
use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};

use crate::audit::Actor;
use crate::db::PgPool;
pub use store::{ImageStore, Images, PostgresImageStore, S3ImageStore};

/// How a photo names one of the bot's uploads: `upload:<id>`.
pub const PHOTO_PREFIX: &str = "upload:";

/// The id in `upload:<id>`, when `photo` is one.
pub fn photo_upload_id(photo: &str) -> Option<i64> {
    photo
        .strip_prefix(PHOTO_PREFIX)?
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
}

/// One upload's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: i64,
    pub content_type: String,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    /// Lowercase hex.
    pub sha256: String,
    pub storage: String,
    pub storage_key: String,
    /// `panel:<login>`, as in the audit log.
    pub actor: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What a new upload is: its bytes' digest and what [`inspect`] found.
#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    pub sha256: &'a [u8],
    pub content_type: &'a str,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub storage: &'a str,
    pub storage_key: &'a str,
}

/// An upload's bytes with its type, for a send.
#[derive(Debug, Clone)]
pub struct UploadFile {
    pub id: i64,
    pub content_type: String,
    pub bytes: Bytes,
}

impl UploadFile {
    /// The file name a multipart send gives it (Telegram shows none for a photo).
    pub fn file_name(&self) -> String {
        let extension = match self.content_type.as_str() {
            "image/png" => "png",
            "image/webp" => "webp",
            _ => "jpg",
        };
        format!("upload-{}.{extension}", self.id)
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the bytes of `bot_id`'s upload with digest `sha256` are kept, in either backend.
pub fn storage_key(bot_id: i64, sha256: &[u8]) -> String {
    format!("uploads/{bot_id}/{}", hex(sha256))
}

const COLUMNS: &str = "id, content_type, bytes, width, height, sha256, storage, storage_key, \
                       actor, created_at";

fn upload_of(row: &tokio_postgres::Row) -> Upload {
    Upload {
        id: row.get(0),
        content_type: row.get(1),
        bytes: row.get(2),
        width: row.get(3),
        height: row.get(4),
        sha256: hex(&row.get::<_, Vec<u8>>(5)),
        storage: row.get(6),
        storage_key: row.get(7),
        actor: row.get(8),
        created_at: row.get(9),
    }
}

/// Upload `id` of `bot_id`, if there is one.
pub async fn find(
    client: &impl GenericClient,
    bot_id: i64,
    id: i64,
) -> anyhow::Result<Option<Upload>> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM uploads WHERE bot_id = $1 AND id = $2"),
            &[&bot_id, &id],
        )
        .await
        .context("reading an upload")?;
    Ok(row.as_ref().map(upload_of))
}

/// The upload of `bot_id` with these bytes' digest, if there is one.
pub async fn find_by_digest(
    client: &impl GenericClient,
    bot_id: i64,
    sha256: &[u8],
) -> anyhow::Result<Option<Upload>> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM uploads WHERE bot_id = $1 AND sha256 = $2"),
            &[&bot_id, &sha256],
        )
        .await
        .context("looking an upload up by its digest")?;
    Ok(row.as_ref().map(upload_of))
}

/// Inserts the row of a new upload in the caller's transaction; `None` when the bot
/// already has these bytes (a concurrent upload of the same image won).
pub async fn insert(
    client: &impl GenericClient,
    bot_id: i64,
    actor: &Actor,
    upload: &NewUpload<'_>,
) -> anyhow::Result<Option<Upload>> {
    let (panel, telegram) = actor.ids();
    let row = client
        .query_opt(
            &format!(
                "INSERT INTO uploads (bot_id, admin_user_id, actor, sha256, content_type, bytes,
                                      width, height, storage, storage_key)
                 VALUES ($1, {}, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (bot_id, sha256) DO NOTHING
                 RETURNING {COLUMNS}",
                crate::audit::admin_user_sql(2, 3)
            ),
            &[
                &bot_id,
                &panel,
                &telegram,
                &actor.label(),
                &upload.sha256,
                &upload.content_type,
                &upload.bytes,
                &upload.width,
                &upload.height,
                &upload.storage,
                &upload.storage_key,
            ],
        )
        .await
        .context("recording an upload")?;
    Ok(row.as_ref().map(upload_of))
}

/// A page of `bot_id`'s uploads, newest first, below `before_id`.
pub async fn list(
    client: &impl GenericClient,
    bot_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> anyhow::Result<Vec<Upload>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM uploads
                 WHERE bot_id = $1 AND ($2::BIGINT IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3"
            ),
            &[&bot_id, &before_id, &limit],
        )
        .await
        .context("listing uploads")?;
    Ok(rows.iter().map(upload_of).collect())
}

/// The bytes of an upload from the store that holds them; `None` when the store has
/// none (an object removed by hand) or this process cannot reach that backend.
pub async fn bytes_of(images: &Images, upload: &Upload) -> anyhow::Result<Option<Bytes>> {
    match images.holding(&upload.storage) {
        Some(store) => store.get(&upload.storage_key).await,
        None => anyhow::bail!(
            "upload {} is kept in {}, which this process is not configured for",
            upload.id,
            upload.storage
        ),
    }
}

/// Upload `id` of `bot_id` with its bytes, for a send; `None` when there is no such
/// upload or its bytes are gone.
pub async fn fetch(
    pool: &PgPool,
    images: &Images,
    bot_id: i64,
    id: i64,
) -> anyhow::Result<Option<UploadFile>> {
    let client = pool.get().await?;
    let Some(upload) = find(&client, bot_id, id).await? else {
        return Ok(None);
    };
    drop(client);
    Ok(bytes_of(images, &upload).await?.map(|bytes| UploadFile {
        id: upload.id,
        content_type: upload.content_type,
        bytes,
    }))
}
