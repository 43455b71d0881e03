-- Campaign runners hold short leases, so a dead runner's campaign and its rows in flight
-- are taken over within seconds instead of after minutes.

-- One row per runner (a slice) working a campaign. The runner renews `lease_until` with
-- its heartbeat; a row whose lease has lapsed (or that is gone) marks a dead runner.
CREATE TABLE campaign_runners (
    runner_id    UUID PRIMARY KEY,
    campaign_id  BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    bot_id       BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    lease_until  TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX campaign_runners_campaign_idx ON campaign_runners (campaign_id);

-- The runner that claimed a delivery in `sending`: its lease says whether the row is
-- still being worked or orphaned.
ALTER TABLE campaign_deliveries ADD COLUMN runner_id UUID;
CREATE INDEX campaign_deliveries_sending_idx ON campaign_deliveries (campaign_id)
    WHERE status = 'sending';

-- Until when a running campaign is known to be in hand: renewed by every live runner's
-- heartbeat and extended over a continuation's delay. The bridge re-enqueues a running
-- campaign whose lease has lapsed (its runner died and its job is gone).
ALTER TABLE campaigns ADD COLUMN lease_until TIMESTAMPTZ;
CREATE INDEX campaigns_running_lease_idx ON campaigns (lease_until) WHERE status = 'running';
