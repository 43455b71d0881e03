-- One paid ProverkaCheka call per receipt: before paying, a verification claims the
-- receipt's fiscal triple (or, for a picture we could not read, the picture's SHA-256).
-- The primary key settles concurrent uploads across processes and Lambda instances;
-- a claim whose owner submission has settled without a stored receipt may be taken
-- over by the next upload (the receipts table is the dedup from then on).
CREATE TABLE receipt_check_claims (
    bot_id         BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    claim_key      TEXT NOT NULL,
    submission_id  BIGINT NOT NULL REFERENCES receipt_submissions (id) ON DELETE CASCADE,
    claimed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, claim_key)
);
CREATE INDEX receipt_check_claims_submission_idx ON receipt_check_claims (submission_id);
