-- An operator may discard a dead letter or a failed message after reading it; the row
-- stays (the history of what was tried) but leaves the failed-work list.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'relayed', 'running', 'sending', 'done',
                      'sent', 'failed', 'blocked', 'dead', 'discarded'));
