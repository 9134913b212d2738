-- Transactional outbox: every change that can alter a cluster's effective policy
-- writes an event in its own transaction; the API publishes it to the distribution
-- queue after commit, and the worker relays any it finds unpublished.
CREATE TABLE domain_events (
  id           bigserial PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type         text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  published_at timestamptz(3)
);
CREATE INDEX domain_events_unpublished_idx ON domain_events (id) WHERE published_at IS NULL;

ALTER TABLE domain_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON domain_events
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON domain_events TO portcullis_app;
GRANT USAGE ON SEQUENCE domain_events_id_seq TO portcullis_app;
