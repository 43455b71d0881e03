-- The panel's roles become owner (everything, manages admins), manager (everything but
-- admins) and viewer (read-only, phones masked). The old 'admin' could see phones and do
-- everything but manage owners: manager. The old 'operator' had masked phones and no
-- panel to act in yet: viewer, the least privilege that keeps what it could see.
ALTER TABLE admin_users DROP CONSTRAINT IF EXISTS admin_users_role_check;
UPDATE admin_users SET role = 'manager' WHERE role = 'admin';
UPDATE admin_users SET role = 'viewer' WHERE role = 'operator';
ALTER TABLE admin_users ALTER COLUMN role SET DEFAULT 'viewer';
ALTER TABLE admin_users ADD CONSTRAINT admin_users_role_check
    CHECK (role IN ('owner', 'manager', 'viewer'));
ALTER TABLE admin_users ADD COLUMN password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- Server-side panel sessions. Only the SHA-256 of the cookie's token is stored, so a
-- read of this table does not yield a usable session.
CREATE TABLE admin_sessions (
    id             BIGSERIAL PRIMARY KEY,
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    admin_user_id  BIGINT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    token_hash     BYTEA NOT NULL UNIQUE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at     TIMESTAMPTZ,
    ip             TEXT,
    user_agent     TEXT
);
CREATE INDEX admin_sessions_user_idx ON admin_sessions (admin_user_id) WHERE revoked_at IS NULL;

-- Failed logins, by the login typed (known or not, so a lockout reveals nothing) and by
-- the client address. Old rows are only read within the lockout window.
CREATE TABLE admin_login_failures (
    id         BIGSERIAL PRIMARY KEY,
    bot_id     BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    login      TEXT NOT NULL,
    ip         TEXT,
    failed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX admin_login_failures_login_idx ON admin_login_failures (bot_id, lower(login), failed_at);
CREATE INDEX admin_login_failures_ip_idx ON admin_login_failures (bot_id, ip, failed_at);
