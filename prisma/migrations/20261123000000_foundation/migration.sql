-- Foundation: tenants, access, cloud scopes, clusters, policies, audit log.
-- Every tenant-owned table carries tenant_id and a row-level security policy keyed
-- on the per-transaction setting app.tenant_id, so a query that forgets its tenant
-- filter still sees nothing of another tenant.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'portcullis_app') THEN
    CREATE ROLE portcullis_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;

CREATE TYPE "TenantStatus" AS ENUM ('ACTIVE', 'DISABLED');
CREATE TYPE "Role" AS ENUM ('OWNER', 'SECURITY_ADMIN', 'SECURITY_READER');
CREATE TYPE "CloudProvider" AS ENUM ('AZURE_SUBSCRIPTION', 'AWS_ACCOUNT', 'GCP_PROJECT');
CREATE TYPE "ClusterDistribution" AS ENUM ('AKS', 'EKS', 'GKE', 'OTHER');
CREATE TYPE "PolicyType" AS ENUM ('MISCONFIGURATION', 'VULNERABILITY');
CREATE TYPE "PolicyAction" AS ENUM ('AUDIT', 'BLOCK');

CREATE TABLE tenants (
  id         uuid PRIMARY KEY,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status     "TenantStatus" NOT NULL DEFAULT 'ACTIVE',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE cloud_scopes (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  provider     "CloudProvider" NOT NULL,
  external_id  text NOT NULL,
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  updated_at   timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT cloud_scopes_external_id_format CHECK (
    (provider = 'AZURE_SUBSCRIPTION' AND external_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
    OR (provider = 'AWS_ACCOUNT' AND external_id ~ '^[0-9]{12}$')
    OR (provider = 'GCP_PROJECT' AND external_id ~ '^[a-z][a-z0-9-]{4,28}[a-z0-9]$')
  )
);
CREATE UNIQUE INDEX cloud_scopes_tenant_id_provider_external_id_key ON cloud_scopes (tenant_id, provider, external_id);

CREATE TABLE role_assignments (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  principal_id   uuid NOT NULL,
  role           "Role" NOT NULL,
  cloud_scope_id uuid REFERENCES cloud_scopes(id) ON DELETE CASCADE,
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  created_by     text NOT NULL
);
CREATE INDEX role_assignments_tenant_id_principal_id_idx ON role_assignments (tenant_id, principal_id);
CREATE UNIQUE INDEX role_assignments_unique_grant ON role_assignments (tenant_id, principal_id, role, cloud_scope_id) NULLS NOT DISTINCT;

CREATE TABLE clusters (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  cloud_scope_id     uuid NOT NULL REFERENCES cloud_scopes(id) ON DELETE RESTRICT,
  name               text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  distribution       "ClusterDistribution" NOT NULL,
  kubernetes_version text,
  agent_token_id     text NOT NULL,
  agent_token_hash   text NOT NULL,
  token_rotated_at   timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_at       timestamptz(3),
  agent_version      text,
  applied_revision   integer,
  created_at         timestamptz(3) NOT NULL DEFAULT now(),
  updated_at         timestamptz(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX clusters_agent_token_id_key ON clusters (agent_token_id);
CREATE UNIQUE INDEX clusters_tenant_id_name_key ON clusters (tenant_id, name);
CREATE INDEX clusters_cloud_scope_id_idx ON clusters (cloud_scope_id);

CREATE TABLE policies (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description       text NOT NULL DEFAULT '',
  type              "PolicyType" NOT NULL,
  action            "PolicyAction" NOT NULL,
  is_default        boolean NOT NULL DEFAULT false,
  version           integer NOT NULL DEFAULT 1,
  namespace_include text[] NOT NULL DEFAULT '{}',
  namespace_exclude text[] NOT NULL DEFAULT '{}',
  created_at        timestamptz(3) NOT NULL DEFAULT now(),
  updated_at        timestamptz(3) NOT NULL DEFAULT now(),
  created_by        text NOT NULL,
  updated_by        text NOT NULL
);
CREATE UNIQUE INDEX policies_tenant_id_name_key ON policies (tenant_id, name);
-- exactly one default policy per type and tenant
CREATE UNIQUE INDEX policies_one_default_per_type ON policies (tenant_id, type) WHERE is_default;

CREATE TABLE policy_rules (
  policy_id uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  rule_id   text NOT NULL,
  enabled   boolean NOT NULL,
  params    jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (policy_id, rule_id)
);

CREATE TABLE policy_cloud_scopes (
  policy_id      uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  cloud_scope_id uuid NOT NULL REFERENCES cloud_scopes(id) ON DELETE RESTRICT,
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  PRIMARY KEY (policy_id, cloud_scope_id)
);
CREATE INDEX policy_cloud_scopes_cloud_scope_id_idx ON policy_cloud_scopes (cloud_scope_id);

CREATE TABLE policy_clusters (
  policy_id  uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  PRIMARY KEY (policy_id, cluster_id)
);
CREATE INDEX policy_clusters_cluster_id_idx ON policy_clusters (cluster_id);

CREATE TABLE policy_exemptions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  policy_id  uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  criteria   jsonb NOT NULL,
  reason     text NOT NULL,
  granted_by text NOT NULL,
  expires_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX policy_exemptions_policy_id_idx ON policy_exemptions (policy_id);

CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  occurred_at    timestamptz(3) NOT NULL DEFAULT now(),
  principal_id   text NOT NULL,
  principal_name text,
  action         text NOT NULL,
  target_type    text NOT NULL,
  target_id      text NOT NULL,
  before         jsonb,
  after          jsonb,
  request_id     text
);
CREATE INDEX audit_log_tenant_id_occurred_at_idx ON audit_log (tenant_id, occurred_at DESC);

-- Row-level security on every tenant-owned table. Not FORCEd: the owning login role
-- does platform work (onboarding, agent credential look-up) and bypasses it; all
-- tenant-bound work runs after SET LOCAL ROLE portcullis_app, which it binds.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'cloud_scopes', 'role_assignments', 'clusters', 'policies',
                           'policy_rules', 'policy_cloud_scopes', 'policy_clusters', 'policy_exemptions', 'audit_log']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (%I = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
      'WITH CHECK (%I = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)',
      t, CASE WHEN t = 'tenants' THEN 'id' ELSE 'tenant_id' END, CASE WHEN t = 'tenants' THEN 'id' ELSE 'tenant_id' END);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO portcullis_app', t);
  END LOOP;
END
$$;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO portcullis_app;
GRANT USAGE ON SCHEMA public TO portcullis_app;
GRANT portcullis_app TO CURRENT_USER;
