-- Images operators upload for broadcasts (and later raffle prizes and win messages).
-- `uploads` is the metadata, always here; the bytes live where `storage` says: in
-- `upload_blobs` (the default) or in the S3 bucket of UPLOADS_BUCKET, under
-- `storage_key` either way. The same bytes uploaded twice are one upload per bot.
CREATE TABLE uploads (
    id             BIGSERIAL PRIMARY KEY,
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    sha256         BYTEA NOT NULL CHECK (octet_length(sha256) = 32),
    content_type   TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes          INTEGER NOT NULL CHECK (bytes BETWEEN 1 AND 10485760),
    width          INTEGER NOT NULL CHECK (width > 0),
    height         INTEGER NOT NULL CHECK (height > 0),
    storage        TEXT NOT NULL CHECK (storage IN ('postgres', 's3')),
    storage_key    TEXT NOT NULL,
    -- Who uploaded it, as in audit_log: the panel user (kept if they are removed) and
    -- the actor's label.
    admin_user_id  BIGINT REFERENCES admin_users (id) ON DELETE SET NULL,
    actor          TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (bot_id, sha256)
);

-- The list pages newest first by id within a bot.
CREATE INDEX uploads_bot_id_idx ON uploads (bot_id, id DESC);

-- The Postgres backend's bytes, by the key the metadata names. Written before the
-- metadata row, so a row never names bytes that are not there; bytes whose row never
-- committed are simply found again by the next upload of the same image.
CREATE TABLE upload_blobs (
    storage_key  TEXT PRIMARY KEY,
    data         BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
