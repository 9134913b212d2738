-- Alerts (issue #27), rules side: what raises an alert (alert_rules and the destinations each
-- sends to), and the state evaluation keeps so an alert goes out once per occurrence or episode.

-- A rule: a kind, filters that only narrow (an empty list = any), and where its alerts go.
-- namespace_patterns are globs matched by the policy engine's linear matcher, never a RegExp.
CREATE TABLE alert_rules (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  kind               text NOT NULL CHECK (kind IN ('BLOCK_DENIAL', 'FIRST_WOULD_DENY', 'POLICY_READY', 'AGENT_SILENT',
                                                   'BUNDLE_BEHIND', 'EVENTS_DROPPED', 'CONFIG_CHANGE')),
  severity           text NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
  enabled            boolean NOT NULL DEFAULT true,
  cloud_scope_ids    text[] NOT NULL DEFAULT '{}',
  cluster_ids        text[] NOT NULL DEFAULT '{}',
  namespace_patterns text[] NOT NULL DEFAULT '{}',
  policy_ids         text[] NOT NULL DEFAULT '{}',
  rule_ids           text[] NOT NULL DEFAULT '{}',
  decisions          text[] NOT NULL DEFAULT '{}',
  -- AGENT_SILENT / BUNDLE_BEHIND: minutes the condition lasts before it alerts
  threshold_minutes  integer CHECK (threshold_minutes BETWEEN 1 AND 10080),
  -- POLICY_READY: days without a would-be denial that make a policy ready
  ready_after_days   integer NOT NULL DEFAULT 7 CHECK (ready_after_days BETWEEN 1 AND 90),
  -- occurrences after the first within this window fold into one digest (0 = every one alerts)
  digest_seconds     integer NOT NULL DEFAULT 60 CHECK (digest_seconds BETWEEN 0 AND 86400),
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz(3) NOT NULL DEFAULT now(),
  created_by         text NOT NULL,
  updated_at         timestamptz(3) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alert_rules_tenant_id_name_key ON alert_rules (tenant_id, name);
CREATE INDEX alert_rules_tenant_id_created_at_idx ON alert_rules (tenant_id, created_at DESC, id DESC);

CREATE TABLE alert_rule_destinations (
  rule_id        uuid NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  destination_id uuid NOT NULL REFERENCES alert_destinations(id) ON DELETE CASCADE,
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  PRIMARY KEY (rule_id, destination_id)
);
CREATE INDEX alert_rule_destinations_destination_id_idx ON alert_rule_destinations (destination_id);

-- FIRST_WOULD_DENY: the (workload, policy rule) pairs an alert rule has alerted on, so a
-- workload's replicas, later batches and other API replicas alert once (INSERT … ON CONFLICT).
CREATE TABLE alert_first_denials (
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  alert_rule_id  uuid NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  cluster_id     uuid NOT NULL,
  namespace      text NOT NULL,
  owner_kind     text NOT NULL,
  owner_name     text NOT NULL,
  policy_id      text NOT NULL,
  rule_id        text NOT NULL,
  first_at       timestamptz(3) NOT NULL,
  PRIMARY KEY (alert_rule_id, cluster_id, namespace, owner_kind, owner_name, policy_id, rule_id)
);
CREATE INDEX alert_first_denials_tenant_id_idx ON alert_first_denials (tenant_id);

-- Periodic checks: per rule and subject (a cluster, a policy) whether the condition holds, since
-- when, and a counter (dropped events): an alert goes out on the edge, once per episode.
CREATE TABLE alert_rule_states (
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  alert_rule_id  uuid NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  subject        text NOT NULL,
  active         boolean NOT NULL,
  alerted        boolean NOT NULL DEFAULT false,
  since          timestamptz(3) NOT NULL,
  counter        bigint NOT NULL DEFAULT 0,
  updated_at     timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_rule_id, subject)
);
CREATE INDEX alert_rule_states_tenant_id_idx ON alert_rule_states (tenant_id);

ALTER TABLE alert_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_rule_destinations ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_first_denials ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_rule_states ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alert_rules
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON alert_rule_destinations
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON alert_first_denials
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON alert_rule_states
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rules TO portcullis_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rule_destinations TO portcullis_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_first_denials TO portcullis_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_rule_states TO portcullis_app;
