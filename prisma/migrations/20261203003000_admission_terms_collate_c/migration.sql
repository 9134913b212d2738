-- The inventory's filter terms compared byte by byte. The GIN index on terms orders its
-- entries with the column's collation: the database default (C.UTF-8 here, en_US.UTF-8 in
-- the official image) calls strcoll for every comparison, which showed as 5 % of an ingest
-- backend's CPU (bttextcmp, 2026-12-03). Filters only ask whether an array contains terms,
-- which is equality, so no answer changes; a query's text[] parameter takes the column's
-- collation and keeps using the index. The rollup and staging tables were "C" from the start.
-- Rebuilds the index of every partition under an exclusive lock: on a large inventory, run
-- it in a maintenance window.
ALTER TABLE admission_events ALTER COLUMN terms TYPE text[] COLLATE "C";
