-- One admission event as the ingest statement receives it: the API sends a batch as ONE
-- binary parameter, an array of these rows (PostgreSQL's binary array and record formats),
-- and the statement reads it with unnest. Reading the batch's events from JSON with
-- json_to_recordset alone cost PostgreSQL 34-39 µs of CPU per event (lexing every value, a
-- hash table per object, a text parse per uuid, time and array), measured alone on 500-event
-- batches of the ingest bench's shape (2026-12-03); the binary receive functions copy bytes. The API's encoder (apps/api/src/inventory/event-rows.ts) writes
-- these attributes in this order with these types; a test compares the two.
-- The API looks the type's OID up once per process (a binary array names its element type)
-- and each connection prepares the statement once: change the type with ALTER TYPE (the OID
-- stays), together with EVENT_ROW_ATTRIBUTES and the statement's name, never by dropping it.
-- t, hr, dy: the event's time and its hour and day (UTC); h: the snapshot's id (SHA-256);
-- ks: the event's rollup keys as admission_rollup_staging.keys holds them.
CREATE TYPE admission_event_row AS (
  id  uuid,
  t   timestamptz(3),
  ns  text,
  k   text,
  av  text,
  n   text,
  uid text,
  ru  text,
  ok  text,
  "on" text,
  op  text,
  dr  boolean,
  d   text,
  br  integer,
  u   text,
  g   text[],
  im  text[],
  tm  text[],
  f   json,
  h   bytea,
  hr  timestamptz(3),
  dy  timestamptz(3),
  ks  text[]
);
