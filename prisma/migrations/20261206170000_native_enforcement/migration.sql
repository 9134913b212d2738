-- Native enforcement (issue #24). A cluster's enforcement mode travels in its bundle: in
-- NATIVE mode its agent also keeps the misconfiguration policies compiled to
-- ValidatingAdmissionPolicy objects in the cluster, and reports per policy what it made of
-- them and how often kube-apiserver denied or warned natively.
CREATE TYPE "EnforcementMode" AS ENUM ('WEBHOOK', 'NATIVE');
CREATE TYPE "NativePolicyStatus" AS ENUM ('ENFORCED', 'PARTIAL', 'NOT_COMPILED', 'APPLY_FAILED');
CREATE TYPE "NativeCheckAction" AS ENUM ('deny', 'warn', 'audit');

ALTER TABLE clusters ADD COLUMN enforcement_mode "EnforcementMode" NOT NULL DEFAULT 'WEBHOOK';
-- the agent's last native report: when it reconciled, from which bundle revision, and why the
-- API server's metrics could not be read (null when they were, or when no report carried them)
ALTER TABLE clusters ADD COLUMN native_reconciled_at timestamptz(3);
ALTER TABLE clusters ADD COLUMN native_revision integer CHECK (native_revision > 0);
ALTER TABLE clusters ADD COLUMN native_metrics_error text;

-- Per cluster and policy, what the agent last reported; replaced as a whole by each report.
-- Rows of a deleted policy or cluster go with it.
CREATE TABLE cluster_native_policies (
  cluster_id  uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  policy_id   uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  revision    integer NOT NULL CHECK (revision > 0),
  state       "NativePolicyStatus" NOT NULL,
  reason      text,
  objects     integer NOT NULL CHECK (objects >= 0),
  unsupported jsonb NOT NULL DEFAULT '[]',
  reported_at timestamptz(3) NOT NULL,
  PRIMARY KEY (cluster_id, policy_id)
);
CREATE INDEX cluster_native_policies_policy_id_idx ON cluster_native_policies (policy_id);

-- kube-apiserver's apiserver_validating_admission_policy_check_total, per cluster, policy, rule
-- and action. `reported` is the cumulative value as last read (it resets when the API server
-- restarts); `total` only grows: each report adds the increase since the previous one, or the
-- whole new value when it is lower (a reset).
CREATE TABLE cluster_native_checks (
  cluster_id         uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  policy_id          uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  rule_id            text NOT NULL,
  enforcement_action "NativeCheckAction" NOT NULL,
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  reported           bigint NOT NULL CHECK (reported >= 0),
  total              bigint NOT NULL CHECK (total >= 0),
  updated_at         timestamptz(3) NOT NULL,
  PRIMARY KEY (cluster_id, policy_id, rule_id, enforcement_action)
);
CREATE INDEX cluster_native_checks_policy_id_idx ON cluster_native_checks (policy_id);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['cluster_native_policies', 'cluster_native_checks']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO portcullis_app', t);
  END LOOP;
END
$$;
