-- admission_rollup_staging is filled and emptied every second or so, and RollupFlusher
-- vacuums it after its folds. Each such VACUUM found the emptied pages at the table's end
-- and truncated them, which takes an ACCESS EXCLUSIVE lock: every ingest statement appending
-- to staging meanwhile waited for it (sampled in pg_stat_activity under the ingest bench,
-- 2026-12-03: the VACUUM waiting on VacuumTruncate, ingest statements on Lock:relation),
-- and the next batches extended the table again at once. The pages are kept instead: the
-- table stays at the size of the most a fold has had staged.
ALTER TABLE admission_rollup_staging SET (vacuum_truncate = false);
