-- Draws made by the verifiable algorithm v2 (docs/DRAW.md) record what a verifier needs
-- besides the seed and the snapshot: the snapshot's SHA-256, the seed's commitment, and
-- the counts. Draws of v1 keep NULLs here and are verified by their own algorithm.
ALTER TABLE raffle_draws
    ADD COLUMN IF NOT EXISTS snapshot_hash TEXT,
    ADD COLUMN IF NOT EXISTS seed_commitment TEXT,
    ADD COLUMN IF NOT EXISTS participants INTEGER,
    ADD COLUMN IF NOT EXISTS tickets BIGINT;
