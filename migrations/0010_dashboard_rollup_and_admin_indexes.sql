-- The panel at a million shoppers and five million receipts (issue 11, BENCHMARKS.md
-- "Admin API"): the dashboard reads a rollup kept exact by triggers instead of counting
-- every row, and the shopper search and the receipts list get the indexes their
-- filters need. Plain CREATE INDEX: migrations run in a transaction (core/src/db.rs),
-- where CONCURRENTLY is impossible; on a big live table build the index by hand first
-- with CONCURRENTLY under the same name and this migration's IF NOT EXISTS skips it.

-- Test shoppers (the panel's test chat) count nowhere; the test-chat branch adds the same
-- column with the same statement, so either order of the two migrations works.
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_test boolean NOT NULL DEFAULT false;

-- ------------------------------------------------------------------ search and lists

-- Case-insensitive name prefixes (LIKE 'ива%'): the names lower-cased once, when written.
-- lower() of Cyrillic text costs about a microsecond a call here, which made a search
-- that walks the newest shoppers (the plan for a common prefix) spend most of its time
-- lower-casing. The database's collation is not C, so only pattern-ops indexes serve a
-- prefix; the old username index served equality only, and this one serves both.
ALTER TABLE users
    ADD COLUMN search_username TEXT GENERATED ALWAYS AS (lower(username)) STORED,
    ADD COLUMN search_name TEXT GENERATED ALWAYS AS (lower(COALESCE(full_name, first_name))) STORED,
    ADD COLUMN search_last_name TEXT GENERATED ALWAYS AS (lower(last_name)) STORED;
DROP INDEX IF EXISTS users_username_idx;
CREATE INDEX IF NOT EXISTS users_username_prefix_idx
    ON users (bot_id, search_username text_pattern_ops) WHERE search_username IS NOT NULL;
CREATE INDEX IF NOT EXISTS users_name_prefix_idx ON users (bot_id, search_name text_pattern_ops);
CREATE INDEX IF NOT EXISTS users_last_name_prefix_idx
    ON users (bot_id, search_last_name text_pattern_ops) WHERE search_last_name IS NOT NULL;
-- A finer histogram (0.1 % a bucket instead of 1 %), so a prefix matching a few thousand
-- of a million shoppers is estimated as such and read through its index, not by walking
-- the newest shoppers until fifty match.
ALTER TABLE users
    ALTER COLUMN search_username SET STATISTICS 1000,
    ALTER COLUMN search_name SET STATISTICS 1000,
    ALTER COLUMN search_last_name SET STATISTICS 1000;

-- The receipts list is newest first (id DESC) under one filter: each index hands the
-- rows over in that order, so a page reads about a page of rows. Flagged receipts are
-- rare (a partial index); receipts without promo products are common enough that the
-- primary key's order finds a page at once.
CREATE INDEX IF NOT EXISTS receipts_status_id_idx ON receipts (bot_id, status, id);
CREATE INDEX IF NOT EXISTS receipts_seller_id_idx ON receipts (bot_id, seller_inn, id);
CREATE INDEX IF NOT EXISTS receipts_flagged_id_idx ON receipts (bot_id, id)
    WHERE jsonb_array_length(fraud_signals) > 0;
-- Without statistics of the expression Postgres guesses a third of the receipts are
-- flagged and walks the primary key instead of the partial index.
CREATE STATISTICS IF NOT EXISTS receipts_fraud_signals_stats
    ON (jsonb_array_length(fraud_signals)) FROM receipts;
-- Upload-time ranges, and the rollup's partial bucket at the edge of the 24 h / 7 d
-- windows. It carries id and status: a day's page sorts the day's ids without reading
-- the day's rows (panel/receipts.rs, `time_range_order`).
CREATE INDEX IF NOT EXISTS receipts_created_idx ON receipts (bot_id, created_at) INCLUDE (id, status);
CREATE INDEX IF NOT EXISTS receipt_submissions_created_idx ON receipt_submissions (bot_id, created_at);
CREATE INDEX IF NOT EXISTS tickets_created_idx ON tickets (bot_id, created_at);
CREATE INDEX IF NOT EXISTS users_created_idx ON users (bot_id, created_at);
-- The test shoppers, whose rows the dashboard leaves out (a handful per bot).
CREATE INDEX IF NOT EXISTS users_test_idx ON users (bot_id) WHERE is_test;

-- ------------------------------------------------------------------ the dashboard's rollup

-- Per bot and 15-minute bucket (UTC-aligned), what the dashboard counts, without test
-- shoppers. 15 minutes because every time zone's offset is a multiple of it, so the
-- buckets add up to exact local days in any zone. Rows with no time (a registered
-- shopper without registered_at) and the participants count live in the '-infinity'
-- bucket. `shard` spreads concurrent writers of one bucket over a few rows (by backend),
-- so they do not queue on one row lock. No foreign key to bots: the triggers write here
-- while a bot's rows are being deleted; a trigger on bots clears a deleted bot's rows.
CREATE TABLE dashboard_counts (
    bot_id        BIGINT NOT NULL,
    bucket        TIMESTAMPTZ NOT NULL,
    shard         SMALLINT NOT NULL DEFAULT 0,
    users         BIGINT NOT NULL DEFAULT 0,
    registered    BIGINT NOT NULL DEFAULT 0,
    uploads       BIGINT NOT NULL DEFAULT 0,
    accepted      BIGINT NOT NULL DEFAULT 0,
    pending       BIGINT NOT NULL DEFAULT 0,
    rejected      BIGINT NOT NULL DEFAULT 0,
    tickets       BIGINT NOT NULL DEFAULT 0,
    participants  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_id, bucket, shard)
);

-- Every shopper's ticket balance (test shoppers too), so "holds tickets" is known per
-- grant without summing the ledger; the row lock orders concurrent grants of one shopper.
CREATE TABLE ticket_balances (
    user_id  BIGINT PRIMARY KEY,
    bot_id   BIGINT NOT NULL,
    balance  BIGINT NOT NULL
);

CREATE FUNCTION dashboard_bucket(at TIMESTAMPTZ) RETURNS TIMESTAMPTZ
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN at IS NULL OR NOT isfinite(at) THEN '-infinity'::TIMESTAMPTZ
                ELSE date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00') END
$$;

CREATE FUNCTION dashboard_add(
    p_bot BIGINT, p_at TIMESTAMPTZ,
    p_users BIGINT DEFAULT 0, p_registered BIGINT DEFAULT 0, p_uploads BIGINT DEFAULT 0,
    p_accepted BIGINT DEFAULT 0, p_pending BIGINT DEFAULT 0, p_rejected BIGINT DEFAULT 0,
    p_tickets BIGINT DEFAULT 0, p_participants BIGINT DEFAULT 0
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_users = 0 AND p_registered = 0 AND p_uploads = 0 AND p_accepted = 0
       AND p_pending = 0 AND p_rejected = 0 AND p_tickets = 0 AND p_participants = 0 THEN
        RETURN;
    END IF;
    INSERT INTO dashboard_counts AS c (bot_id, bucket, shard, users, registered, uploads,
                                       accepted, pending, rejected, tickets, participants)
    VALUES (p_bot, dashboard_bucket(p_at), (pg_backend_pid() % 4)::SMALLINT, p_users,
            p_registered, p_uploads, p_accepted, p_pending, p_rejected, p_tickets, p_participants)
    ON CONFLICT (bot_id, bucket, shard) DO UPDATE SET
        users = c.users + EXCLUDED.users,
        registered = c.registered + EXCLUDED.registered,
        uploads = c.uploads + EXCLUDED.uploads,
        accepted = c.accepted + EXCLUDED.accepted,
        pending = c.pending + EXCLUDED.pending,
        rejected = c.rejected + EXCLUDED.rejected,
        tickets = c.tickets + EXCLUDED.tickets,
        participants = c.participants + EXCLUDED.participants;
END;
$$;

-- Whether a shopper's rows count: false for a test shopper, NULL for one being deleted
-- (its BEFORE DELETE trigger already took everything it counted out). FOR SHARE waits
-- for a concurrent change of is_test, whose trigger then sees this row committed.
CREATE FUNCTION dashboard_counted(p_user BIGINT) RETURNS boolean
LANGUAGE sql AS $$
    SELECT NOT is_test FROM users WHERE id = p_user FOR SHARE
$$;

-- Adds (sign 1) or takes out (sign -1) everything a shopper's receipts, uploads and
-- tickets count: when the shopper becomes or stops being a test shopper, or is deleted.
CREATE FUNCTION dashboard_user_rows(p_user BIGINT, p_sign BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT bot_id, dashboard_bucket(created_at) AS b, count(*) AS n
             FROM receipt_submissions WHERE user_id = p_user GROUP BY 1, 2 LOOP
        PERFORM dashboard_add(r.bot_id, r.b, p_uploads => p_sign * r.n);
    END LOOP;
    FOR r IN SELECT bot_id, dashboard_bucket(created_at) AS b,
                    count(*) FILTER (WHERE status = 'accepted') AS a,
                    count(*) FILTER (WHERE status = 'pending') AS p,
                    count(*) FILTER (WHERE status = 'rejected') AS j
             FROM receipts WHERE user_id = p_user GROUP BY 1, 2 LOOP
        PERFORM dashboard_add(r.bot_id, r.b, p_accepted => p_sign * r.a,
                              p_pending => p_sign * r.p, p_rejected => p_sign * r.j);
    END LOOP;
    FOR r IN SELECT bot_id, dashboard_bucket(created_at) AS b, sum(amount)::BIGINT AS n
             FROM tickets WHERE user_id = p_user GROUP BY 1, 2 LOOP
        PERFORM dashboard_add(r.bot_id, r.b, p_tickets => p_sign * r.n);
    END LOOP;
    FOR r IN SELECT bot_id FROM ticket_balances WHERE user_id = p_user AND balance > 0 LOOP
        PERFORM dashboard_add(r.bot_id, NULL, p_participants => p_sign);
    END LOOP;
END;
$$;

-- The shopper row's own figures: one user at created_at, one registered at registered_at.
CREATE FUNCTION dashboard_user_own(p_bot BIGINT, p_created TIMESTAMPTZ, p_status TEXT,
                                   p_registered TIMESTAMPTZ, p_sign BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_add(p_bot, p_created, p_users => p_sign);
    IF p_status = 'registered' THEN
        PERFORM dashboard_add(p_bot, p_registered, p_registered => p_sign);
    END IF;
END;
$$;

CREATE FUNCTION dashboard_users_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.is_test THEN
        PERFORM dashboard_user_own(OLD.bot_id, OLD.created_at, OLD.status, OLD.registered_at, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.is_test THEN
        PERFORM dashboard_user_own(NEW.bot_id, NEW.created_at, NEW.status, NEW.registered_at, 1);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.is_test <> NEW.is_test THEN
        PERFORM dashboard_user_rows(NEW.id, CASE WHEN NEW.is_test THEN -1 ELSE 1 END);
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- Before the cascade removes the rows, while they can still be counted.
        IF NOT OLD.is_test THEN
            PERFORM dashboard_user_rows(OLD.id, -1);
        END IF;
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION dashboard_submissions_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND dashboard_counted(OLD.user_id) THEN
        PERFORM dashboard_add(OLD.bot_id, OLD.created_at, p_uploads => -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND dashboard_counted(NEW.user_id) THEN
        PERFORM dashboard_add(NEW.bot_id, NEW.created_at, p_uploads => 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION dashboard_receipt_status(p_bot BIGINT, p_at TIMESTAMPTZ, p_status TEXT,
                                         p_sign BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_add(p_bot, p_at,
        p_accepted => CASE WHEN p_status = 'accepted' THEN p_sign ELSE 0 END,
        p_pending => CASE WHEN p_status = 'pending' THEN p_sign ELSE 0 END,
        p_rejected => CASE WHEN p_status = 'rejected' THEN p_sign ELSE 0 END);
END;
$$;

CREATE FUNCTION dashboard_receipts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND dashboard_counted(OLD.user_id) THEN
        PERFORM dashboard_receipt_status(OLD.bot_id, OLD.created_at, OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND dashboard_counted(NEW.user_id) THEN
        PERFORM dashboard_receipt_status(NEW.bot_id, NEW.created_at, NEW.status, 1);
    END IF;
    RETURN NULL;
END;
$$;

-- One grant (or its removal) to the balance, the participants count when the balance
-- crosses zero, and the tickets figure.
CREATE FUNCTION dashboard_ticket_grant(p_bot BIGINT, p_user BIGINT, p_at TIMESTAMPTZ,
                                       p_amount BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    after BIGINT;
    counted boolean;
BEGIN
    INSERT INTO ticket_balances AS b (user_id, bot_id, balance) VALUES (p_user, p_bot, p_amount)
    ON CONFLICT (user_id) DO UPDATE SET balance = b.balance + EXCLUDED.balance
    RETURNING balance INTO after;
    counted := dashboard_counted(p_user);
    IF counted THEN
        PERFORM dashboard_add(p_bot, p_at, p_tickets => p_amount);
        IF (after - p_amount > 0) <> (after > 0) THEN
            PERFORM dashboard_add(p_bot, NULL,
                                  p_participants => CASE WHEN after > 0 THEN 1 ELSE -1 END);
        END IF;
    END IF;
END;
$$;

CREATE FUNCTION dashboard_tickets_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM dashboard_ticket_grant(OLD.bot_id, OLD.user_id, OLD.created_at, -OLD.amount);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM dashboard_ticket_grant(NEW.bot_id, NEW.user_id, NEW.created_at, NEW.amount);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION dashboard_bots_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dashboard_counts WHERE bot_id = OLD.id;
    DELETE FROM ticket_balances WHERE bot_id = OLD.id;
    RETURN NULL;
END;
$$;

-- Only the columns the figures read fire the triggers: the webhook's last_seen_at
-- touch on every message costs nothing.
CREATE TRIGGER dashboard_users_write
    AFTER INSERT OR UPDATE OF bot_id, created_at, status, registered_at, is_test ON users
    FOR EACH ROW EXECUTE FUNCTION dashboard_users_trigger();
CREATE TRIGGER dashboard_users_delete
    BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION dashboard_users_trigger();
CREATE TRIGGER dashboard_submissions
    AFTER INSERT OR DELETE OR UPDATE OF bot_id, user_id, created_at ON receipt_submissions
    FOR EACH ROW EXECUTE FUNCTION dashboard_submissions_trigger();
CREATE TRIGGER dashboard_receipts
    AFTER INSERT OR DELETE OR UPDATE OF bot_id, user_id, created_at, status ON receipts
    FOR EACH ROW EXECUTE FUNCTION dashboard_receipts_trigger();
CREATE TRIGGER dashboard_tickets
    AFTER INSERT OR DELETE OR UPDATE OF bot_id, user_id, created_at, amount ON tickets
    FOR EACH ROW EXECUTE FUNCTION dashboard_tickets_trigger();
CREATE TRIGGER dashboard_bots
    AFTER DELETE ON bots FOR EACH ROW EXECUTE FUNCTION dashboard_bots_trigger();

-- Recomputes a bot's rollup and balances from the tables: this migration's backfill, and
-- a bulk load that ran with triggers off (the admin bench's COPY seed).
CREATE FUNCTION dashboard_rebuild(p_bot BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dashboard_counts WHERE bot_id = p_bot;
    DELETE FROM ticket_balances WHERE bot_id = p_bot;
    INSERT INTO ticket_balances (user_id, bot_id, balance)
    SELECT user_id, p_bot, sum(amount) FROM tickets WHERE bot_id = p_bot GROUP BY user_id;
    INSERT INTO dashboard_counts (bot_id, bucket, shard, users, registered, uploads, accepted,
                                  pending, rejected, tickets, participants)
    SELECT p_bot, b, 0, sum(us), sum(rg), sum(up), sum(ac), sum(pe), sum(rj), sum(ti), sum(pa)
    FROM (
        SELECT dashboard_bucket(created_at) AS b, 1 AS us, 0 AS rg, 0 AS up, 0 AS ac, 0 AS pe,
               0 AS rj, 0 AS ti, 0 AS pa
        FROM users WHERE bot_id = p_bot AND NOT is_test
        UNION ALL
        SELECT dashboard_bucket(registered_at), 0, 1, 0, 0, 0, 0, 0, 0
        FROM users WHERE bot_id = p_bot AND NOT is_test AND status = 'registered'
        UNION ALL
        SELECT dashboard_bucket(s.created_at), 0, 0, 1, 0, 0, 0, 0, 0
        FROM receipt_submissions s JOIN users u ON u.id = s.user_id
        WHERE s.bot_id = p_bot AND NOT u.is_test
        UNION ALL
        SELECT dashboard_bucket(r.created_at), 0, 0, 0, (r.status = 'accepted')::INT,
               (r.status = 'pending')::INT, (r.status = 'rejected')::INT, 0, 0
        FROM receipts r JOIN users u ON u.id = r.user_id
        WHERE r.bot_id = p_bot AND NOT u.is_test
        UNION ALL
        SELECT dashboard_bucket(t.created_at), 0, 0, 0, 0, 0, 0, t.amount, 0
        FROM tickets t JOIN users u ON u.id = t.user_id
        WHERE t.bot_id = p_bot AND NOT u.is_test
        UNION ALL
        SELECT '-infinity'::TIMESTAMPTZ, 0, 0, 0, 0, 0, 0, 0, 1
        FROM ticket_balances b JOIN users u ON u.id = b.user_id
        WHERE b.bot_id = p_bot AND b.balance > 0 AND NOT u.is_test
    ) parts
    GROUP BY b;
END;
$$;

-- Exact figures of a bot's rows after `p_since` (the 24 h and 7 d growth): the buckets
-- wholly after it from the rollup, and the rows of the one bucket it falls inside from
-- the tables (at most 15 minutes of rows, through the created_at indexes). Test shoppers
-- are few: their ids are read once (users_test_idx) instead of looking up each row's
-- shopper. The edge queries are planned with their values (EXECUTE with literals):
-- planned for unknown bounds, Postgres guesses a wide range and scans.
CREATE FUNCTION dashboard_since(p_bot BIGINT, p_since TIMESTAMPTZ,
    OUT users BIGINT, OUT registered BIGINT, OUT uploads BIGINT, OUT accepted BIGINT,
    OUT pending BIGINT, OUT rejected BIGINT, OUT tickets BIGINT)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hi TIMESTAMPTZ := dashboard_bucket(p_since) + interval '15 minutes';
    tests BIGINT[];
    edge TEXT;
    n BIGINT;
    a BIGINT;
    p BIGINT;
    j BIGINT;
BEGIN
    SELECT COALESCE(sum(c.users), 0), COALESCE(sum(c.registered), 0),
           COALESCE(sum(c.uploads), 0), COALESCE(sum(c.accepted), 0),
           COALESCE(sum(c.pending), 0), COALESCE(sum(c.rejected), 0),
           COALESCE(sum(c.tickets), 0)
    INTO users, registered, uploads, accepted, pending, rejected, tickets
    FROM dashboard_counts c WHERE c.bot_id = p_bot AND c.bucket >= hi;
    SELECT COALESCE(array_agg(id), '{}') INTO tests FROM users WHERE bot_id = p_bot AND is_test;
    -- "%1$s" below is the time column of each table.
    edge := format('bot_id = %s AND %%1$s > %L AND %%1$s < %L AND NOT (user_id = ANY (%L::BIGINT[]))',
                   p_bot, p_since, hi, tests);
    EXECUTE format('SELECT count(*) FROM users WHERE NOT is_test AND '
                   || replace(edge, 'user_id', 'id'), 'created_at') INTO n;
    users := users + n;
    EXECUTE format('SELECT count(*) FROM users WHERE status = ''registered'' AND NOT is_test AND '
                   || replace(edge, 'user_id', 'id'), 'registered_at') INTO n;
    registered := registered + n;
    EXECUTE format('SELECT count(*) FROM receipt_submissions WHERE ' || edge, 'created_at') INTO n;
    uploads := uploads + n;
    EXECUTE format('SELECT count(*) FILTER (WHERE status = ''accepted''),
                           count(*) FILTER (WHERE status = ''pending''),
                           count(*) FILTER (WHERE status = ''rejected'')
                    FROM receipts WHERE ' || edge, 'created_at') INTO a, p, j;
    accepted := accepted + a;
    pending := pending + p;
    rejected := rejected + j;
    EXECUTE format('SELECT COALESCE(sum(amount), 0) FROM tickets WHERE ' || edge, 'created_at')
        INTO n;
    tickets := tickets + n;
END;
$$;

-- The backfill, under the triggers' locks: no write slips between it and the triggers.
SELECT dashboard_rebuild(id) FROM bots;
