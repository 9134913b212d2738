-- Alerts (issue #27), delivery side: where a tenant's alerts go, the alerts themselves and
-- one delivery row per (alert, destination), the delivery log.

-- A destination. Its URL (Slack and Teams URLs are credentials), its signing secrets and its
-- token are stored only encrypted (AES-256-GCM, `v1:<key id>:<iv>:<ciphertext+tag>`, bound to
-- the row by its associated data); url_host is what lists show. Deleting a destination keeps
-- the row (deleted_at) so the delivery log still names it.
CREATE TABLE alert_destinations (
  id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id                   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  kind                        text NOT NULL CHECK (kind IN ('WEBHOOK', 'SLACK', 'TEAMS', 'SIEM')),
  enabled                     boolean NOT NULL DEFAULT true,
  url_encrypted               text NOT NULL,
  url_host                    text NOT NULL,
  secret_encrypted            text,
  previous_secret_encrypted   text,
  previous_secret_expires_at  timestamptz(3),
  token_header                text,
  token_encrypted             text,
  rate_limit_per_minute       integer NOT NULL CHECK (rate_limit_per_minute BETWEEN 1 AND 6000),
  created_at                  timestamptz(3) NOT NULL DEFAULT now(),
  created_by                  text NOT NULL,
  updated_at                  timestamptz(3) NOT NULL DEFAULT now(),
  secret_rotated_at           timestamptz(3),
  deleted_at                  timestamptz(3),
  CONSTRAINT alert_destinations_webhook_secret CHECK ((kind = 'WEBHOOK') = (secret_encrypted IS NOT NULL)),
  CONSTRAINT alert_destinations_token CHECK ((token_header IS NULL) = (token_encrypted IS NULL))
);
CREATE UNIQUE INDEX alert_destinations_tenant_id_name_key ON alert_destinations (tenant_id, name) WHERE deleted_at IS NULL;
CREATE INDEX alert_destinations_tenant_id_created_at_idx ON alert_destinations (tenant_id, created_at DESC, id DESC);

-- An alert as it was raised (the idempotency key is its id: webhook-id, CloudEvents id, job id).
CREATE TABLE alerts (
  id              uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  rule_id         uuid,
  kind            text NOT NULL CHECK (kind IN ('BLOCK_DENIAL', 'FIRST_WOULD_DENY', 'POLICY_READY', 'AGENT_SILENT',
                                                'BUNDLE_BEHIND', 'EVENTS_DROPPED', 'CONFIG_CHANGE', 'TEST')),
  severity        text NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  occurred_at     timestamptz(3) NOT NULL,
  created_at      timestamptz(3) NOT NULL DEFAULT now(),
  cloud_scope_id  uuid,
  cluster_id      uuid,
  body            jsonb NOT NULL
);
CREATE INDEX alerts_tenant_id_created_at_idx ON alerts (tenant_id, created_at DESC);

-- One alert to one destination: the delivery log. kind, cloud_scope_id and cluster_id repeat
-- the alert's so the log filters and scope visibility need no join.
CREATE TABLE alert_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  alert_id         uuid NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  destination_id   uuid NOT NULL REFERENCES alert_destinations(id) ON DELETE CASCADE,
  alert_kind       text NOT NULL,
  cloud_scope_id   uuid,
  cluster_id       uuid,
  status           text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RETRYING', 'DELIVERED', 'DEAD')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_http_status integer,
  last_error       text CHECK (length(last_error) <= 1000),
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  updated_at       timestamptz(3) NOT NULL DEFAULT now(),
  next_attempt_at  timestamptz(3),
  delivered_at     timestamptz(3),
  dead_at          timestamptz(3)
);
CREATE UNIQUE INDEX alert_deliveries_alert_id_destination_id_key ON alert_deliveries (alert_id, destination_id);
CREATE INDEX alert_deliveries_tenant_id_created_at_idx ON alert_deliveries (tenant_id, created_at DESC, id DESC);
CREATE INDEX alert_deliveries_destination_id_created_at_idx ON alert_deliveries (destination_id, created_at DESC, id DESC);
-- the sweep that re-enqueues deliveries whose job was lost
CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (updated_at) WHERE status IN ('QUEUED', 'RETRYING');

ALTER TABLE alert_destinations ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alert_destinations
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON alerts
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON alert_deliveries
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON alert_destinations TO portcullis_app;
GRANT SELECT, INSERT ON alerts TO portcullis_app;
GRANT SELECT, INSERT, UPDATE ON alert_deliveries TO portcullis_app;
