-- The panel's test chat (issue 11): an operator talks to the bot as a test shopper.
-- A test shopper is an ordinary `users` row flagged `is_test`, with a synthetic Telegram
-- id (2^52 + the panel user's id; real Telegram user ids have at most 52 bits and every
-- group or channel id is negative). Statistics, audiences and draws leave it out.
-- IF NOT EXISTS: another branch may add the same column.
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_test boolean NOT NULL DEFAULT false;
-- The exclusion filters read the few test users through this, never the whole table.
CREATE INDEX IF NOT EXISTS users_test_idx ON users (bot_id, id) WHERE is_test;

-- Numbers the test chats' events, their message ids and their synthetic update ids
-- (negated: Telegram's update ids are never negative), so none is ever reused.
CREATE SEQUENCE IF NOT EXISTS test_chat_seq;

-- What happened in a test chat, in order: the operator's messages and taps
-- (`incoming`), the bot's sends, edits, deletions and callback answers, and any other
-- Bot API call the bot made towards the chat (`call`). Nothing here ever went to Telegram.
CREATE TABLE IF NOT EXISTS test_chat_events (
    seq         BIGINT PRIMARY KEY DEFAULT nextval('test_chat_seq'),
    bot_id      BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_id     BIGINT NOT NULL,
    kind        TEXT NOT NULL
                CHECK (kind IN ('incoming', 'sent', 'edited', 'deleted', 'callback_answer', 'call')),
    method      TEXT NOT NULL,
    message_id  BIGINT,
    payload     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS test_chat_events_chat_idx ON test_chat_events (bot_id, chat_id, seq);

-- The pictures an operator sent into a test chat: `getFile` and the download of a
-- test-chat file id read them here instead of asking Telegram.
CREATE TABLE IF NOT EXISTS test_chat_files (
    bot_id      BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    file_id     TEXT NOT NULL,
    chat_id     BIGINT NOT NULL,
    bytes       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, file_id)
);
