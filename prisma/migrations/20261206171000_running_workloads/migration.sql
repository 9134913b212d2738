-- Background audit (issue #25): the current state of each running workload per cluster, as the
-- cluster's agent last reported it (POST /agent/v1/workload-reports), replaced by each report.
-- Not history: admission_events keep that. Snapshots go to admission_snapshots (content-addressed),
-- where simulation reads them; retention keeps the ones a running workload refers to.

-- One row per running workload (the top-most controller, a bare pod, an Ingress).
-- namespace is '' for cluster-scoped objects, as in the admission inventory.
CREATE TABLE running_workloads (
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  cluster_id      uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  kind            text COLLATE "C" NOT NULL,
  namespace       text COLLATE "C" NOT NULL,
  name            text COLLATE "C" NOT NULL,
  cloud_scope_id  uuid NOT NULL,
  api_version     text NOT NULL,
  uid             text NOT NULL,
  pods            integer NOT NULL CHECK (pods >= 0),
  images          text[] NOT NULL,
  snapshot_hash   bytea NOT NULL,
  -- the bundle revision it was evaluated with (null: the agent held no valid bundle)
  bundle_revision integer,
  -- some non-exempted BLOCK violation: admitted now, it would be denied
  would_deny      boolean NOT NULL,
  -- some non-exempted violation
  violating       boolean NOT NULL,
  -- first report naming it (with this uid: a re-created object starts again)
  first_seen_at   timestamptz(3) NOT NULL,
  updated_at      timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, cluster_id, kind, namespace, name)
);
CREATE INDEX running_workloads_scope_idx ON running_workloads (tenant_id, cloud_scope_id);
CREATE INDEX running_workloads_namespace_idx ON running_workloads (tenant_id, namespace, kind, name);
CREATE INDEX running_workloads_snapshot_idx ON running_workloads (tenant_id, snapshot_hash);

-- Its current violations. since: when this policy + rule + container began to be reported
-- (kept while it keeps violating; a violation that goes away and comes back starts again).
-- container and path are '' when the violation names none.
CREATE TABLE running_violations (
  tenant_id       uuid NOT NULL,
  cluster_id      uuid NOT NULL,
  kind            text COLLATE "C" NOT NULL,
  namespace       text COLLATE "C" NOT NULL,
  name            text COLLATE "C" NOT NULL,
  policy_id       text COLLATE "C" NOT NULL,
  rule_id         text COLLATE "C" NOT NULL,
  container       text COLLATE "C" NOT NULL,
  path            text COLLATE "C" NOT NULL,
  cloud_scope_id  uuid NOT NULL,
  action          text NOT NULL CHECK (action IN ('AUDIT', 'BLOCK')),
  message         text NOT NULL,
  image           text,
  exempted        boolean NOT NULL,
  since           timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, cluster_id, kind, namespace, name, policy_id, rule_id, container, path),
  FOREIGN KEY (tenant_id, cluster_id, kind, namespace, name)
    REFERENCES running_workloads (tenant_id, cluster_id, kind, namespace, name) ON DELETE CASCADE
);
CREATE INDEX running_violations_policy_idx ON running_violations (tenant_id, policy_id, rule_id);

-- Per cluster: the last report, the revision the cluster's workloads are evaluated with, and the
-- FULL sync in progress (pages staged in running_sync_pages until its last page arrives).
CREATE TABLE running_cluster_states (
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  cluster_id         uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  cloud_scope_id     uuid NOT NULL,
  bundle_revision    integer,
  last_report_at     timestamptz(3) NOT NULL,
  last_observed_at   timestamptz(3) NOT NULL,
  last_full_sync_at  timestamptz(3),
  sync_id            uuid,
  sync_started_at    timestamptz(3),
  PRIMARY KEY (tenant_id, cluster_id)
);

-- The pages of a FULL sync not yet complete: workloads as received (validated), applied whole
-- with the last page. An incomplete sync older than 15 minutes is discarded.
CREATE TABLE running_sync_pages (
  tenant_id   uuid NOT NULL,
  cluster_id  uuid NOT NULL,
  sync_id     uuid NOT NULL,
  page        integer NOT NULL,
  received_at timestamptz(3) NOT NULL,
  workloads   jsonb NOT NULL,
  PRIMARY KEY (tenant_id, cluster_id, sync_id, page),
  FOREIGN KEY (tenant_id, cluster_id) REFERENCES running_cluster_states (tenant_id, cluster_id) ON DELETE CASCADE
);

-- Reports applied, for idempotency (a re-sent report is acknowledged, not applied twice); kept a day.
CREATE TABLE running_reports (
  tenant_id   uuid NOT NULL,
  report_id   uuid NOT NULL,
  cluster_id  uuid NOT NULL,
  received_at timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, report_id),
  FOREIGN KEY (tenant_id, cluster_id) REFERENCES running_cluster_states (tenant_id, cluster_id) ON DELETE CASCADE
);
CREATE INDEX running_reports_age_idx ON running_reports (tenant_id, cluster_id, received_at);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['running_workloads', 'running_violations', 'running_cluster_states', 'running_sync_pages', 'running_reports']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO portcullis_app', t);
  END LOOP;
END
$$;
