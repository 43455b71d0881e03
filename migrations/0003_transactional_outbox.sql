-- The transactional outbox: every job and every message outside a campaign, written in
-- the transaction of the state change that causes it. The relay (listen-bridge, or
-- `promo serve` in process) hands due rows to the queues; the queue message carries
-- only the row id, so a lost queue message (a restart of the in-process queue, a job
-- in the SQS dead-letter queue) loses nothing: the row's lease runs out and the sweep
-- hands it out again.
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    bot_id        BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- receipt_check: payload is a ReceiptJob; message: payload is {method, params}.
    kind          TEXT NOT NULL CHECK (kind IN ('receipt_check', 'message')),
    -- What the row is for: receipt_check, receipt_result, manual_tickets, winner,
    -- quota_notice, moderation.
    purpose       TEXT NOT NULL,
    -- The shopper it concerns (NULL for an admin who is no shopper of the bot).
    user_id       BIGINT REFERENCES users (id) ON DELETE CASCADE,
    -- The Telegram chat a message goes to.
    chat_id       BIGINT,
    submission_id BIGINT REFERENCES receipt_submissions (id) ON DELETE CASCADE,
    payload       JSONB NOT NULL,
    -- pending → relayed (handed to a queue) → running / sending (claimed by a consumer)
    -- → done (jobs) / sent, failed, blocked (messages); dead: given up, with last_error.
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'relayed', 'running', 'sending', 'done',
                                    'sent', 'failed', 'blocked', 'dead')),
    due_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Consumer attempts (a 429 is not counted: Telegram asked us to wait, not failed).
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- Hand-outs to a queue; bounded, so a row whose messages keep dying ends `dead`.
    relay_count   INTEGER NOT NULL DEFAULT 0,
    lease_until   TIMESTAMPTZ,
    last_error    TEXT,
    -- Makes a producer's insert idempotent (a retried job writes its row once).
    dedup_key     TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ,
    UNIQUE (bot_id, dedup_key),
    CHECK (kind <> 'message' OR chat_id IS NOT NULL)
);
-- The relay's due scan and its timer.
CREATE INDEX outbox_due_idx ON outbox (due_at) WHERE status = 'pending';
-- The sweep for hand-outs and claims whose lease ran out.
CREATE INDEX outbox_leased_idx ON outbox (lease_until)
    WHERE status IN ('relayed', 'running', 'sending');
-- "Is there a live check for this submission?" (the submission sweep).
CREATE INDEX outbox_submission_idx ON outbox (submission_id) WHERE submission_id IS NOT NULL;
-- Dead letters and failed messages for the operators.
CREATE INDEX outbox_given_up_idx ON outbox (bot_id, finished_at DESC)
    WHERE status IN ('dead', 'failed');

-- Wakes the relay at once when a row becomes pending (inserted, or put back with a new
-- due time after a failure); the payload's due_at lets it set its timer.
CREATE FUNCTION notify_outbox_due() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'pending'
       AND (TG_OP = 'INSERT'
            OR OLD.status IS DISTINCT FROM NEW.status
            OR OLD.due_at IS DISTINCT FROM NEW.due_at) THEN
        PERFORM pg_notify('outbox_due', json_build_object(
            'id', NEW.id, 'bot_id', NEW.bot_id, 'due_at', NEW.due_at
        )::text);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_notify_due
    AFTER INSERT OR UPDATE OF status, due_at ON outbox
    FOR EACH ROW EXECUTE FUNCTION notify_outbox_due();
