/**
 * A batch of admission events as ONE binary parameter of the ingest statement: an array of
 * admission_event_row records in PostgreSQL's binary wire formats (array_recv, record_recv
 * and each attribute type's receive function). PostgreSQL copies these bytes where it
 * would lex JSON and parse a text value per uuid, time and array (see the migration
 * 20261203002000_admission_event_rows for the figures); the API writes them with Buffer
 * calls where it ran JSON.stringify. node-postgres sends a Buffer parameter in binary.
 */
import { PG_EPOCH_MS } from '@portcullis/db';

/** The composite type the statement's parameter is an array of. */
export const EVENT_ROW_TYPE = 'admission_event_row';

/** OIDs of the built-in types the row uses (fixed in every PostgreSQL, pg_type.dat). */
const OID = {
  bool: 16,
  bytea: 17,
  int4: 23,
  text: 25,
  json: 114,
  textArray: 1009,
  timestamptz: 1184,
  uuid: 2950,
} as const;

/**
 * The attributes of admission_event_row, in order, with their types' OIDs: what
 * EventRowsEncoder writes for each row. record_recv refuses a row whose attribute count or
 * types differ from the type's, so a mismatch fails loudly; a test also compares this list
 * with the database's.
 */
export const EVENT_ROW_ATTRIBUTES: ReadonlyArray<readonly [name: string, oid: number]> = [
  ['id', OID.uuid],
  ['t', OID.timestamptz],
  ['ns', OID.text],
  ['k', OID.text],
  ['av', OID.text],
  ['n', OID.text],
  ['uid', OID.text],
  ['ru', OID.text],
  ['ok', OID.text],
  ['on', OID.text],
  ['op', OID.text],
  ['dr', OID.bool],
  ['d', OID.text],
  ['br', OID.int4],
  ['u', OID.text],
  ['g', OID.textArray],
  ['im', OID.textArray],
  ['tm', OID.textArray],
  ['f', OID.json],
  ['h', OID.bytea],
  ['hr', OID.timestamptz],
  ['dy', OID.timestamptz],
  ['ks', OID.textArray],
];

/** One event as the statement stores it (the attributes of admission_event_row). */
export interface EventRow {
  /** The event id: a UUID in its text form. */
  readonly id: string;
  /** The event's time, and the hour and day (UTC) it falls in: milliseconds since the Unix epoch. */
  readonly t: number;
  readonly hr: number;
  readonly dy: number;
  readonly ns: string;
  readonly k: string;
  readonly av: string;
  readonly n: string;
  readonly uid: string | null;
  readonly ru: string | null;
  readonly ok: string;
  readonly on: string;
  readonly op: string;
  readonly dr: boolean;
  readonly d: string;
  readonly br: number | null;
  readonly u: string;
  readonly g: readonly string[];
  readonly im: readonly string[];
  readonly tm: readonly string[];
  /** The findings as JSON text. */
  readonly f: string;
  /** The snapshot's id: 64 hex digits (SHA-256), or null. */
  readonly h: string | null;
  readonly ks: readonly string[];
}

const TWO_32 = 2 ** 32;

/**
 * Buffers of finished encoders, for the next ones. A batch's buffer is about a megabyte
 * outside V8's heap; allocated afresh per batch, tens of them a second made V8 collect for
 * "external memory pressure" over and over, promoting the in-flight batches' objects on the
 * way. A few are kept; one that grew very large is let go.
 */
const SPARE_BUFFERS: Buffer[] = [];
/**
 * Every encoder buffer is its own allocation (Buffer.allocUnsafeSlow), never a slice of
 * Node's shared pool: Buffer.allocUnsafe hands out pool slices below half of
 * Buffer.poolSize, which is 64 KiB on Node 26 (8 KiB on Node 20), so a small batch's
 * buffer became a view into a slab holding other requests' bytes. Kept as a spare, such a
 * slice would pin that slab (and whatever else it holds) for the process's life.
 */
function allocate(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(bytes);
}
const SPARE_BUFFERS_MAX = 8;
const SPARE_BUFFER_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Writes admission_event_row records, then the array of them, into one growing buffer.
 * `release()` hands the buffer to the next encoder: call it once the parameter has been sent
 * and will not be sent again (the statement has completed or failed for good).
 */
export class EventRowsEncoder {
  private buf: Buffer;
  private at: number;
  private rows = 0;
  private released = false;

  /** `rowTypeOid`: the OID of admission_event_row in the target database (it differs between databases). */
  constructor(
    private readonly rowTypeOid: number,
    expectedRows: number,
  ) {
    const wanted = Math.max(4096, expectedRows * ROW_BYTES);
    const spare = SPARE_BUFFERS.pop();
    this.buf = spare && spare.length >= wanted ? spare : allocate(wanted);
    this.at = ARRAY_HEADER_BYTES; // the header is written last, when the row count is known
  }

  /** Gives the buffer back for another encoder; what finish() returned must not be used after this. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (SPARE_BUFFERS.length < SPARE_BUFFERS_MAX && this.buf.length <= SPARE_BUFFER_MAX_BYTES)
      SPARE_BUFFERS.push(this.buf);
  }

  add(r: EventRow): void {
    const start = this.reserve();
    this.int32(EVENT_ROW_ATTRIBUTES.length);
    this.uuid(r.id);
    this.time(r.t);
    this.text(r.ns);
    this.text(r.k);
    this.text(r.av);
    this.text(r.n);
    this.text(r.uid);
    this.text(r.ru);
    this.text(r.ok);
    this.text(r.on);
    this.text(r.op);
    this.field(OID.bool, 1);
    this.buf[this.at++] = r.dr ? 1 : 0;
    this.text(r.d);
    if (r.br === null) this.nullField(OID.int4);
    else {
      this.field(OID.int4, 4);
      this.int32(r.br);
    }
    this.text(r.u);
    this.textArray(r.g);
    this.textArray(r.im);
    this.textArray(r.tm);
    this.text(r.f, OID.json);
    if (r.h === null) this.nullField(OID.bytea);
    else {
      this.field(OID.bytea, 32);
      this.hex(r.h, 32);
    }
    this.time(r.hr);
    this.time(r.dy);
    this.textArray(r.ks);
    this.backpatch(start);
    this.rows++;
  }

  /** The array parameter: `rows` records, one dimension, no nulls. */
  finish(): Buffer {
    const end = this.at;
    this.at = 0;
    this.int32(1);
    this.int32(0);
    this.int32(this.rowTypeOid);
    this.int32(this.rows);
    this.int32(1);
    this.at = end;
    return this.buf.subarray(0, end);
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = allocate(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  private int32(v: number): void {
    this.ensure(4);
    put32(this.buf, this.at, v);
    this.at += 4;
  }

  /** A record attribute's header (its type and byte length, -1 for null), with room for the value after it. */
  private field(oid: number, length: number): void {
    this.ensure(8 + Math.max(length, 0));
    put32(this.buf, this.at, oid);
    put32(this.buf, this.at + 4, length);
    this.at += 8;
  }

  private nullField(oid: number): void {
    this.field(oid, -1);
  }

  /** Leaves room for a length and returns where it goes; backpatch() fills it in. */
  private reserve(): number {
    this.ensure(4);
    const start = this.at;
    this.at += 4;
    return start;
  }

  private backpatch(start: number): void {
    put32(this.buf, start, this.at - start - 4);
  }

  /** A text (or json) attribute, or null. UTF-8; a lone surrogate becomes U+FFFD, as for any text parameter. */
  private text(s: string | null, oid: number = OID.text): void {
    if (s === null) {
      this.nullField(oid);
      return;
    }
    this.ensure(4);
    put32(this.buf, this.at, oid);
    this.at += 4;
    this.bytes(s);
  }

  /**
   * A string's UTF-8 bytes after their length (an attribute's value, or an array element).
   * A short ASCII string, what most fields are, is copied here: a call into Buffer#write
   * costs more than this loop for a few dozen characters.
   */
  private bytes(s: string): void {
    this.ensure(4 + s.length * 3); // a UTF-16 code unit takes at most 3 bytes of UTF-8
    const buf = this.buf;
    const start = this.at + 4;
    let n = 0;
    if (s.length <= SHORT) {
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        buf[start + n] = c;
      }
    }
    if (n < s.length) n = buf.write(s, start, 'utf8');
    put32(buf, this.at, n);
    this.at = start + n;
  }

  /** A text[] attribute: one dimension (none when empty), no null elements. */
  private textArray(items: readonly string[]): void {
    this.ensure(4);
    put32(this.buf, this.at, OID.textArray);
    this.at += 4;
    const start = this.reserve();
    this.int32(items.length === 0 ? 0 : 1);
    this.int32(0);
    this.int32(OID.text);
    if (items.length > 0) {
      this.int32(items.length);
      this.int32(1); // lower bound
      for (const item of items) this.bytes(item);
    }
    this.backpatch(start);
  }

  /** A timestamptz attribute: microseconds since PostgreSQL's epoch, as a signed 64-bit integer. */
  private time(ms: number): void {
    this.field(OID.timestamptz, 8);
    const micros = (ms - PG_EPOCH_MS) * 1000; // exact: |micros| < 2^53 for any year PostgreSQL stores
    const hi = Math.floor(micros / TWO_32);
    put32(this.buf, this.at, hi);
    put32(this.buf, this.at + 4, micros - hi * TWO_32);
    this.at += 8;
  }

  private uuid(id: string): void {
    this.field(OID.uuid, 16);
    let out = this.at;
    for (let i = 0; i < id.length; i++) {
      if (id.charCodeAt(i) === DASH) continue;
      this.buf[out++] = (HEX[id.charCodeAt(i)]! << 4) | HEX[id.charCodeAt(++i)]!;
    }
    if (out !== this.at + 16) throw new Error(`not a UUID: ${JSON.stringify(id.slice(0, 40))}`);
    this.at = out;
  }

  private hex(digits: string, bytes: number): void {
    if (digits.length !== bytes * 2) throw new Error(`expected ${bytes * 2} hex digits, got ${digits.length}`);
    for (let i = 0; i < digits.length; i += 2)
      this.buf[this.at++] = (HEX[digits.charCodeAt(i)]! << 4) | HEX[digits.charCodeAt(i + 1)]!;
  }
}

/** Room per row to start with: the bench's rows take ~1.2 KiB; growing copies what is written. */
const ROW_BYTES = 2048;
/** Strings up to this length are copied by the encoder's loop, longer ones by Buffer#write. */
const SHORT = 64;
/**
 * A 32-bit integer, big-endian, signed or not (the bytes are the same), written without
 * Buffer#writeInt32BE's range checks: every value here is in range by construction, and the
 * encoder writes dozens per event.
 */
function put32(buf: Buffer, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/** ndim, flags, element type, then one dimension's size and lower bound. */
const ARRAY_HEADER_BYTES = 20;
const DASH = 0x2d;

/** Hex digit values by character code (both cases). Validation has already checked the digits. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;
