//! Where an upload's bytes live: one small port, [`ImageStore`], with two backends:
//! Postgres (`upload_blobs`, the default) and an S3 bucket (any S3-compatible store;
//! the moto server locally). Keys are content addresses (the bot and the SHA-256), so
//! `put` is idempotent and a repeated upload writes the same object again at worst.

use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::config::UploadSettings;
use crate::db::PgPool;

/// Stores and serves the bytes of uploads by key.
#[async_trait]
pub trait ImageStore: Send + Sync + fmt::Debug {
    /// The backend's name as `uploads.storage` records it: `postgres` or `s3`.
    fn backend(&self) -> &'static str;
    /// Stores `bytes` under `key`; storing the same key again is harmless.
    async fn put(&self, key: &str, content_type: &str, bytes: Bytes) -> anyhow::Result<()>;
    /// The bytes under `key`, `None` when there are none.
    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>>;
}

/// The store a process writes new uploads to, and the Postgres one, which always
/// exists: an upload keeps the backend it was written to, so switching `UPLOADS_BUCKET`
/// on later still serves the images stored in Postgres before.
#[derive(Debug, Clone)]
pub struct Images {
    pub store: Arc<dyn ImageStore>,
    pub postgres: Arc<PostgresImageStore>,
}

impl Images {
    /// The store that holds an upload written to `backend`, if this process has it.
    pub fn holding(&self, backend: &str) -> Option<&dyn ImageStore> {
        if backend == self.store.backend() {
            Some(self.store.as_ref())
        } else if backend == self.postgres.backend() {
            Some(self.postgres.as_ref())
        } else {
            None
        }
    }

    /// Postgres only (what `UPLOADS_BUCKET` unset means).
    pub fn in_postgres(pool: PgPool) -> Images {
        let postgres = Arc::new(PostgresImageStore { pool });
        Images {
            store: postgres.clone(),
            postgres,
        }
    }

    /// The store the settings name: S3 with a bucket, else Postgres.
    pub async fn connect(settings: &UploadSettings, pool: PgPool) -> Images {
        let postgres = Arc::new(PostgresImageStore { pool });
        let store: Arc<dyn ImageStore> = match &settings.bucket {
            Some(bucket) => Arc::new(
                S3ImageStore::connect(
                    bucket,
                    settings.s3_endpoint_url.as_deref(),
                    &settings.aws_region,
                )
                .await,
            ),
            None => postgres.clone(),
        };
        Images { store, postgres }
    }
}

/// Bytes in `upload_blobs`, beside the metadata.
#[derive(Clone)]
pub struct PostgresImageStore {
    pool: PgPool,
}

impl fmt::Debug for PostgresImageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PostgresImageStore")
    }
}

#[async_trait]
impl ImageStore for PostgresImageStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn put(&self, key: &str, _content_type: &str, bytes: Bytes) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO upload_blobs (storage_key, data) VALUES ($1, $2)
                 ON CONFLICT (storage_key) DO NOTHING",
                &[&key, &bytes.as_ref()],
            )
            .await
            .context("storing an upload's bytes")?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT data FROM upload_blobs WHERE storage_key = $1",
                &[&key],
            )
            .await
            .context("reading an upload's bytes")?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }
}

/// Bytes as objects in one S3 bucket.
#[derive(Clone)]
pub struct S3ImageStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    region: String,
}

impl fmt::Debug for S3ImageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3ImageStore {{ bucket: {:?} }}", self.bucket)
    }
}

impl S3ImageStore {
    /// A client for `bucket`. With an endpoint (moto, an S3-compatible store): dummy
    /// static credentials, `region` and path-style addresses, so nothing reaches AWS or
    /// the instance metadata service. Without one: the default AWS credential and region
    /// chain (the function's role under Lambda).
    pub async fn connect(bucket: &str, endpoint_url: Option<&str>, region: &str) -> Self {
        let client = match endpoint_url {
            Some(endpoint) => {
                let shared = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(region.to_owned()))
                    .endpoint_url(endpoint)
                    .credentials_provider(Credentials::new(
                        "test",
                        "test",
                        None,
                        None,
                        "promo-local",
                    ))
                    .load()
                    .await;
                let config = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(true)
                    // Checksums only where S3 requires them: not every S3-compatible
                    // store understands the SDK's default trailing checksums.
                    .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                    .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            }
            None => {
                let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
                aws_sdk_s3::Client::new(&shared)
            }
        };
        Self {
            client,
            bucket: bucket.to_owned(),
            region: region.to_owned(),
        }
    }

    /// Creates the bucket unless it exists: for local stores and tests (a deploy creates
    /// its bucket with the rest of the infrastructure).
    pub async fn ensure_bucket(&self) -> anyhow::Result<()> {
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        self.region.as_str(),
                    ))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|e| {
                    e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!(
                "creating bucket {}: {}",
                self.bucket,
                DisplayErrorContext(e)
            )),
        }
    }
}

#[async_trait]
impl ImageStore for S3ImageStore {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &str, content_type: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("storing an upload in S3: {}", DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "reading an upload from S3: {}",
                    DisplayErrorContext(e)
                ))
            }
        };
        let body = output
            .body
            .collect()
            .await
            .context("reading an upload's body from S3")?;
        Ok(Some(body.into_bytes()))
    }
}
