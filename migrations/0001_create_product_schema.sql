-- The whole product's schema. Every table is scoped by bot: one deployment can serve
-- several promo bots, each with its own shoppers, receipts, campaigns and texts.

CREATE TABLE bots (
    id              BIGSERIAL PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9_-]{1,64}$'),
    telegram_bot_id BIGINT,
    username        TEXT,
    title           TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               BIGSERIAL PRIMARY KEY,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    telegram_id      BIGINT NOT NULL,
    username         TEXT,
    first_name       TEXT NOT NULL DEFAULT '',
    last_name        TEXT,
    language_code    TEXT,
    -- Language chosen by the shopper (/language); falls back to language_code.
    language         TEXT NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en')),
    -- Name the shopper typed during registration.
    full_name        TEXT CHECK (char_length(full_name) BETWEEN 2 AND 100),
    -- AES-GCM(nonce || ciphertext), HMAC-SHA256 for exact search, masked for display.
    phone_ciphertext BYTEA,
    phone_hash       BYTEA,
    phone_masked     TEXT,
    status           TEXT NOT NULL DEFAULT 'new'
                     CHECK (status IN ('new', 'registering', 'registered', 'banned')),
    -- False once the shopper blocked the bot (my_chat_member kicked or 403 on send).
    reachable        BOOLEAN NOT NULL DEFAULT TRUE,
    unreachable_at   TIMESTAMPTZ,
    registered_at    TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (bot_id, telegram_id),
    CHECK ((phone_ciphertext IS NULL) = (phone_hash IS NULL))
);
CREATE INDEX users_phone_hash_idx ON users (bot_id, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX users_username_idx ON users (bot_id, lower(username)) WHERE username IS NOT NULL;
CREATE INDEX users_registered_idx ON users (bot_id, registered_at) WHERE status = 'registered';

-- Every upload attempt and its outcome, also the rejected ones: operators review them.
CREATE TABLE receipt_submissions (
    id               BIGSERIAL PRIMARY KEY,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source           TEXT NOT NULL CHECK (source IN ('photo', 'document', 'qr_text', 'manual')),
    telegram_file_id TEXT,
    file_size        INTEGER,
    qr_raw           TEXT,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'processing', 'retry_scheduled', 'accepted',
                                       'pending_moderation', 'rejected', 'failed')),
    -- Machine-readable outcome (e.g. duplicate, not_a_sale, out_of_window, no_promo_items).
    outcome          TEXT,
    outcome_detail   TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    provider_calls   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,
    receipt_id       BIGINT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX receipt_submissions_user_idx ON receipt_submissions (bot_id, user_id, created_at DESC);
CREATE INDEX receipt_submissions_status_idx ON receipt_submissions (bot_id, status, created_at DESC);

CREATE TABLE receipts (
    id                     BIGSERIAL PRIMARY KEY,
    bot_id                 BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id                BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    submission_id          BIGINT REFERENCES receipt_submissions (id) ON DELETE SET NULL,
    fiscal_drive_number    TEXT NOT NULL CHECK (fiscal_drive_number ~ '^[0-9]{16}$'),
    fiscal_document_number BIGINT NOT NULL CHECK (fiscal_document_number BETWEEN 0 AND 4294967295),
    fiscal_sign            BIGINT NOT NULL CHECK (fiscal_sign BETWEEN 0 AND 4294967295),
    operation_type         SMALLINT NOT NULL,
    -- Local wall-clock time of the point of sale, as printed (no time zone).
    receipt_at             TIMESTAMP NOT NULL,
    total_kopecks          BIGINT NOT NULL CHECK (total_kopecks >= 0),
    seller_inn             TEXT,
    seller_name            TEXT,
    seller_address         TEXT,
    items                  JSONB NOT NULL DEFAULT '[]',
    raw_qr                 TEXT NOT NULL,
    tickets                INTEGER NOT NULL DEFAULT 0 CHECK (tickets >= 0),
    status                 TEXT NOT NULL DEFAULT 'accepted'
                           CHECK (status IN ('accepted', 'pending', 'rejected')),
    moderation_reason      TEXT,
    moderated_by           BIGINT,
    moderated_at           TIMESTAMPTZ,
    fraud_signals          JSONB NOT NULL DEFAULT '[]',
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Invariant 2: one fiscal document is accepted at most once per bot, across users.
    UNIQUE (bot_id, fiscal_drive_number, fiscal_document_number, fiscal_sign)
);
CREATE INDEX receipts_user_idx ON receipts (bot_id, user_id, created_at DESC);
CREATE INDEX receipts_seller_day_idx ON receipts (bot_id, seller_inn, created_at);
ALTER TABLE receipt_submissions
    ADD CONSTRAINT receipt_submissions_receipt_fk FOREIGN KEY (receipt_id) REFERENCES receipts (id) ON DELETE SET NULL;

-- A ledger: a user's tickets are the sum of their grants (receipts, manual additions).
CREATE TABLE tickets (
    id             BIGSERIAL PRIMARY KEY,
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    receipt_id     BIGINT REFERENCES receipts (id) ON DELETE CASCADE,
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    source         TEXT NOT NULL CHECK (source IN ('receipt', 'manual', 'moderation')),
    reason         TEXT,
    admin_user_id  BIGINT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tickets_user_idx ON tickets (bot_id, user_id);
CREATE UNIQUE INDEX tickets_one_grant_per_receipt ON tickets (receipt_id) WHERE source = 'receipt';

CREATE TABLE admin_users (
    id             BIGSERIAL PRIMARY KEY,
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    login          TEXT NOT NULL CHECK (char_length(login) BETWEEN 1 AND 64),
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL DEFAULT 'operator'
                   CHECK (role IN ('owner', 'admin', 'operator', 'viewer')),
    telegram_id    BIGINT,
    disabled_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at  TIMESTAMPTZ,
    UNIQUE (bot_id, login)
);

CREATE TABLE campaigns (
    id               BIGSERIAL PRIMARY KEY,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('broadcast', 'single_message', 'raffle')),
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'scheduled', 'running', 'paused',
                                       'cancelled', 'completed', 'failed')),
    -- Message content: text, optional photo (file_id after the first upload), button.
    content          JSONB NOT NULL DEFAULT '{}',
    -- Who receives it: {"all": true}, {"user_ids": [...]}, filters.
    audience         JSONB NOT NULL DEFAULT '{}',
    -- NULL with status 'scheduled' means "as soon as possible".
    scheduled_for    TIMESTAMPTZ,
    paid_broadcast   BOOLEAN NOT NULL DEFAULT FALSE,
    -- Set by the bridge when it hands the campaign to the queue (claim: relayed once).
    relayed_at       TIMESTAMPTZ,
    relay_count      INTEGER NOT NULL DEFAULT 0,
    -- Recipients are materialised once, then deliveries are worked off.
    materialized_at  TIMESTAMPTZ,
    heartbeat_at     TIMESTAMPTZ,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    total            INTEGER NOT NULL DEFAULT 0,
    sent             INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    blocked          INTEGER NOT NULL DEFAULT 0,
    unknown          INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    created_by       BIGINT,
    created_via      TEXT NOT NULL DEFAULT 'panel' CHECK (created_via IN ('panel', 'bot', 'system')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_due_idx ON campaigns (scheduled_for) WHERE status = 'scheduled';
CREATE INDEX campaigns_bot_idx ON campaigns (bot_id, created_at DESC);

CREATE TABLE campaign_deliveries (
    id                  BIGSERIAL PRIMARY KEY,
    campaign_id         BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    bot_id              BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id             BIGINT NOT NULL,
    -- pending -> sending -> sent | failed | blocked; a crash mid-send leaves 'sending',
    -- which recovery turns into 'unknown' and never resends automatically (invariant 3).
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'blocked', 'unknown')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    error               TEXT,
    telegram_message_id BIGINT,
    claimed_at          TIMESTAMPTZ,
    sent_at             TIMESTAMPTZ,
    UNIQUE (campaign_id, user_id)
);
CREATE INDEX campaign_deliveries_pending_idx ON campaign_deliveries (campaign_id, id) WHERE status = 'pending';

CREATE TABLE raffle_draws (
    id               BIGSERIAL PRIMARY KEY,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- One draw per raffle campaign (invariant 4: never redrawn).
    campaign_id      BIGINT NOT NULL UNIQUE REFERENCES campaigns (id) ON DELETE CASCADE,
    prize            TEXT NOT NULL,
    winner_count     INTEGER NOT NULL CHECK (winner_count > 0),
    seed             BYTEA NOT NULL,
    -- [{user_id, tickets}] in a fixed order: with the seed the draw is reproducible.
    ticket_snapshot  JSONB NOT NULL,
    algorithm        TEXT NOT NULL,
    drawn_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE raffle_winners (
    id               BIGSERIAL PRIMARY KEY,
    draw_id          BIGINT NOT NULL REFERENCES raffle_draws (id) ON DELETE CASCADE,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL CHECK (position > 0),
    tickets_at_draw  INTEGER NOT NULL,
    notified_at      TIMESTAMPTZ,
    UNIQUE (draw_id, user_id),
    UNIQUE (draw_id, position)
);

CREATE TABLE settings (
    bot_id      BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by  BIGINT,
    PRIMARY KEY (bot_id, key)
);

-- Operator overrides of the built-in bot texts, per language.
CREATE TABLE texts (
    bot_id      BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    language    TEXT NOT NULL CHECK (language IN ('ru', 'en')),
    body        TEXT NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4096),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by  BIGINT,
    PRIMARY KEY (bot_id, key, language)
);

CREATE TABLE audit_log (
    id             BIGSERIAL PRIMARY KEY,
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    admin_user_id  BIGINT REFERENCES admin_users (id) ON DELETE SET NULL,
    -- 'panel:<login>', 'bot:<telegram id>' or 'system'.
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    target         TEXT,
    details        JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_bot_idx ON audit_log (bot_id, created_at DESC);

-- Invariant 1: a Telegram update is processed at most once. The claim row is inserted
-- before any effect; a retry of the same update_id finds it and does nothing.
CREATE TABLE processed_updates (
    bot_id        BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    update_id     BIGINT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX processed_updates_age_idx ON processed_updates (processed_at);

-- The listen-bridge LISTENs on this channel. A campaign is announced when it becomes
-- scheduled (now or later: the payload carries due_at so the bridge can set a timer).
CREATE FUNCTION notify_campaign_due() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'scheduled'
       AND (TG_OP = 'INSERT'
            OR OLD.status IS DISTINCT FROM NEW.status
            OR OLD.scheduled_for IS DISTINCT FROM NEW.scheduled_for) THEN
        PERFORM pg_notify('campaigns_due', json_build_object(
            'campaign_id', NEW.id,
            'bot_id', NEW.bot_id,
            'kind', NEW.kind,
            'due_at', COALESCE(NEW.scheduled_for, now())
        )::text);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER campaigns_notify_due
    AFTER INSERT OR UPDATE OF status, scheduled_for ON campaigns
    FOR EACH ROW EXECUTE FUNCTION notify_campaign_due();
