-- How long a tenant keeps scan-artifact history: uploads no lookup can return any more
-- (superseded re-scans, moved tags). What a lookup can return is never deleted. Was a
-- constant 30 days for every tenant; audits often ask for a year or more.
ALTER TABLE tenants ADD COLUMN scan_history_days integer NOT NULL DEFAULT 30
  CHECK (scan_history_days BETWEEN 1 AND 3650);
