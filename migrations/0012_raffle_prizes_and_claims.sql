-- Raffles a regulator can audit (docs/DRAW.md): a raffle campaign's model (prizes,
-- window, messages, the sealed seed and its published commitment), the draw's stored
-- snapshot, which prize each pick won or reserves, and the winner's claim.

-- One row per raffle campaign, written with the campaign. The seed is drawn from the OS
-- CSPRNG at creation and kept sealed (AES-256-GCM under PRIZE_DATA_KEY) until the draw
-- reveals it into raffle_draws.seed; its SHA-256 commitment is public from creation on.
CREATE TABLE raffles (
    campaign_id         BIGINT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    bot_id              BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    title               TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    kind                TEXT NOT NULL CHECK (kind IN ('intermediate', 'final')),
    -- Receipts whose printed purchase time (local wall clock) is in [from, to); NULL
    -- bounds are open. Manual grants count by their time in the promo's time zone.
    window_from         TIMESTAMP,
    window_to           TIMESTAMP,
    time_zone           TEXT NOT NULL DEFAULT 'Europe/Moscow',
    multiple_wins       BOOLEAN NOT NULL DEFAULT FALSE,
    burn_tickets        BOOLEAN NOT NULL DEFAULT FALSE,
    reserves_per_prize  INTEGER NOT NULL DEFAULT 1 CHECK (reserves_per_prize BETWEEN 0 AND 100),
    -- {"text": "...", "photo": "upload:<id>" | null}
    win_message         JSONB NOT NULL,
    lose_message        JSONB,
    notify_losers       BOOLEAN NOT NULL DEFAULT FALSE,
    seed_sealed         BYTEA NOT NULL,
    seed_commitment     TEXT NOT NULL CHECK (seed_commitment ~ '^[0-9a-f]{64}$'),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX raffles_bot_idx ON raffles (bot_id, created_at DESC);

CREATE TABLE raffle_prizes (
    id           BIGSERIAL PRIMARY KEY,
    campaign_id  BIGINT NOT NULL REFERENCES raffles (campaign_id) ON DELETE CASCADE,
    bot_id       BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- 1-based order: picks fill prizes in this order (docs/DRAW.md, "Slots").
    position     INTEGER NOT NULL CHECK (position > 0),
    name         TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    quantity     INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    value_rub    BIGINT NOT NULL CHECK (value_rub BETWEEN 0 AND 1000000000),
    photo        TEXT,
    UNIQUE (campaign_id, position)
);

-- v2 draws store the canonical snapshot text (docs/DRAW.md) instead of JSON: 1,000,000
-- participants are ~15 MB of text, streamed in and out, never a JSON tree in memory.
ALTER TABLE raffle_draws
    ALTER COLUMN ticket_snapshot DROP NOT NULL,
    ADD COLUMN IF NOT EXISTS snapshot BYTEA,
    ADD COLUMN IF NOT EXISTS multiple_wins BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS burned BOOLEAN NOT NULL DEFAULT FALSE;

-- 15 MB of canonical text per million participants: stored as is, not compressed, so
-- the draw's transaction does not spend its time in pglz.
ALTER TABLE raffle_draws ALTER COLUMN snapshot SET STORAGE EXTERNAL;

-- The draw's message to those who did not win goes out as a broadcast of its own,
-- materialised in the draw's transaction; each delivery carries its placeholder values.
ALTER TABLE raffle_draws ADD COLUMN IF NOT EXISTS losers_campaign_id BIGINT
    REFERENCES campaigns (id) ON DELETE SET NULL;
ALTER TABLE campaign_deliveries ADD COLUMN IF NOT EXISTS vars JSONB;

-- An intermediate draw that burns tickets marks the grants it used.
ALTER TABLE tickets ADD COLUMN IF NOT EXISTS burned_by_draw BIGINT
    REFERENCES raffle_draws (id) ON DELETE SET NULL;

-- The draw's snapshot of a million participants reads the grants in user order from
-- this covering index and anti-joins the few receipts that are not accepted and the few
-- shoppers who may not take part (BENCHMARKS.md, "Raffle draw").
CREATE INDEX IF NOT EXISTS tickets_draw_idx ON tickets (bot_id, user_id)
    INCLUDE (amount, receipt_id) WHERE burned_by_draw IS NULL;
CREATE INDEX IF NOT EXISTS receipts_not_accepted_idx ON receipts (id) WHERE status <> 'accepted';
CREATE INDEX IF NOT EXISTS users_excluded_from_draws_idx ON users (id)
    WHERE status <> 'registered' OR is_test;

-- With multiple wins a user may hold several picks of one draw.
ALTER TABLE raffle_winners DROP CONSTRAINT IF EXISTS raffle_winners_draw_id_user_id_key;
CREATE INDEX IF NOT EXISTS raffle_winners_user_idx ON raffle_winners (draw_id, user_id);

-- Each pick is a winner of a prize or its reserve, with its claim:
--   reserve (waiting to be called) | notified | confirmed | documents_received
--   | handed_over | expired | declined | disqualified | unused (a reserve never called)
ALTER TABLE raffle_winners
    ADD COLUMN IF NOT EXISTS prize_id BIGINT REFERENCES raffle_prizes (id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS is_reserve BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS claim_status TEXT NOT NULL DEFAULT 'notified'
        CHECK (claim_status IN ('reserve', 'notified', 'confirmed', 'documents_received',
                                'handed_over', 'expired', 'declined', 'disqualified', 'unused')),
    -- When this pick started holding the prize (the draw, or its promotion from reserve).
    ADD COLUMN IF NOT EXISTS activated_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS claim_deadline TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS confirmed_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS consent_at TIMESTAMPTZ,
    -- The tax-agent documents (prize value above 4,000 ₽), sealed under PRIZE_DATA_KEY's
    -- documents key; purged (set NULL, purged_at set) after the retention period.
    ADD COLUMN IF NOT EXISTS documents BYTEA,
    ADD COLUMN IF NOT EXISTS documents_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS documents_purged_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS handed_over_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS ended_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS ended_reason TEXT,
    -- The reserve that took this pick's prize over.
    ADD COLUMN IF NOT EXISTS replaced_by BIGINT REFERENCES raffle_winners (id);
CREATE INDEX IF NOT EXISTS raffle_winners_deadline_idx ON raffle_winners (claim_deadline)
    WHERE claim_status = 'notified';
CREATE INDEX IF NOT EXISTS raffle_winners_purge_idx ON raffle_winners (documents_at)
    WHERE documents IS NOT NULL;
