-- Vulnerability gating: per-tenant CI upload tokens and the signed scan artifacts they upload.

-- A CI credential `pcs_<token_id>.<secret>`: only the SHA-256 of the secret is stored.
-- Good for POST /api/v1/scan-reports and nothing else; revocation takes effect at once
-- (every upload reads this row).
CREATE TABLE scan_upload_tokens (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_id     text NOT NULL,
  token_hash   text NOT NULL,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  created_by   text NOT NULL,
  last_used_at timestamptz(3),
  revoked_at   timestamptz(3),
  revoked_by   text
);
CREATE UNIQUE INDEX scan_upload_tokens_token_id_key ON scan_upload_tokens (token_id);
CREATE INDEX scan_upload_tokens_tenant_id_created_at_idx ON scan_upload_tokens (tenant_id, created_at DESC);

-- One normalised report of one image. The envelope is the signed ScanArtifactDocument
-- agents receive as is; the columns beside it are what lookups and lists filter on.
-- The same report uploaded twice has the same content hash: the second changes nothing.
CREATE TABLE scan_artifacts (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  content_hash    text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  repository      text NOT NULL,
  tags            text[] NOT NULL DEFAULT '{}',
  repo_digest     text,
  image_id        text,
  tag_bound       boolean NOT NULL,
  format          text NOT NULL CHECK (format IN ('trivy', 'grype', 'cyclonedx')),
  scanner_name    text NOT NULL,
  scanner_version text NOT NULL,
  scanned_at      timestamptz(3) NOT NULL,
  received_at     timestamptz(3) NOT NULL DEFAULT now(),
  upload_token_id uuid REFERENCES scan_upload_tokens(id) ON DELETE SET NULL,
  -- distinct vulnerability ids by the worst severity each is reported with
  critical_count  integer NOT NULL CHECK (critical_count >= 0),
  high_count      integer NOT NULL CHECK (high_count >= 0),
  medium_count    integer NOT NULL CHECK (medium_count >= 0),
  low_count       integer NOT NULL CHECK (low_count >= 0),
  unknown_count   integer NOT NULL CHECK (unknown_count >= 0),
  findings_count  integer NOT NULL CHECK (findings_count >= 0),
  envelope        jsonb NOT NULL,
  kid             text NOT NULL,
  CONSTRAINT scan_artifacts_identity CHECK (tag_bound = (repo_digest IS NULL) AND (repo_digest IS NOT NULL OR cardinality(tags) > 0))
);
CREATE UNIQUE INDEX scan_artifacts_tenant_id_content_hash_key ON scan_artifacts (tenant_id, content_hash);
-- lookups: by digest, and by repository then tag; newest scan first
CREATE INDEX scan_artifacts_tenant_id_repo_digest_idx ON scan_artifacts (tenant_id, repo_digest, scanned_at DESC) WHERE repo_digest IS NOT NULL;
CREATE INDEX scan_artifacts_tenant_id_repository_idx ON scan_artifacts (tenant_id, repository, scanned_at DESC);
-- scanArtifacts: newest upload first
CREATE INDEX scan_artifacts_tenant_id_received_at_idx ON scan_artifacts (tenant_id, received_at DESC, id DESC);
CREATE INDEX scan_artifacts_upload_token_id_idx ON scan_artifacts (upload_token_id);

ALTER TABLE scan_upload_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_artifacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scan_upload_tokens
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON scan_artifacts
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_upload_tokens TO portcullis_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON scan_artifacts TO portcullis_app;
