-- Signed policy bundles: one row per (cluster, revision). Revisions only grow; the
-- unique key means two workers can never store different content under one revision.
CREATE TABLE bundles (
  cluster_id   uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  revision     integer NOT NULL CHECK (revision > 0),
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  content_hash text NOT NULL,
  envelope     jsonb NOT NULL,
  issued_at    timestamptz(3) NOT NULL,
  expires_at   timestamptz(3) NOT NULL,
  PRIMARY KEY (cluster_id, revision)
);
CREATE INDEX bundles_expires_at_idx ON bundles (expires_at);

-- Latest stored revision per cluster, kept with the bundle insert, so the agent
-- endpoint and the compiler read one row instead of scanning revisions.
ALTER TABLE clusters ADD COLUMN bundle_revision integer;
ALTER TABLE clusters ADD COLUMN bundle_content_hash text;
ALTER TABLE clusters ADD COLUMN bundle_expires_at timestamptz(3);
ALTER TABLE clusters ADD COLUMN last_error text;

ALTER TABLE bundles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bundles
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT ON bundles TO portcullis_app;
