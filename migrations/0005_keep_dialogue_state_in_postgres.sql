-- What the bot is waiting for in each chat, per flow (the shopper dialogue, an admin
-- flow), kept in Postgres so every dialogue step still works while Redis is down.
-- The webhook reads both flows in the statement that claims the update, so an update
-- costs no extra round trip. A row past `expires_at` counts as absent; it is
-- overwritten or deleted by the chat's next step, and the bridge's sweep purges the rest.
CREATE TABLE dialogue_states (
    bot_id      BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_id     BIGINT NOT NULL,
    flow        TEXT NOT NULL CHECK (flow IN ('shopper', 'admin')),
    state       JSONB NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bot_id, chat_id, flow)
);
CREATE INDEX dialogue_states_expiry_idx ON dialogue_states (expires_at);
