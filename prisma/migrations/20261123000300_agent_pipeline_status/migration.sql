-- What an agent last reported about its event pipeline: how many admission events wait
-- in its local spool and how many it had to drop because the spool was full (those
-- are missing from the inventory), and the agent's own clock at that moment (skew
-- makes bundles look expired to it).
ALTER TABLE clusters ADD COLUMN agent_spool_depth integer CHECK (agent_spool_depth >= 0);
ALTER TABLE clusters ADD COLUMN agent_dropped_events integer CHECK (agent_dropped_events >= 0);
ALTER TABLE clusters ADD COLUMN agent_reported_at timestamptz(3);
