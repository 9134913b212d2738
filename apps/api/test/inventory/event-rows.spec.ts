import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_ROW_ATTRIBUTES, EventRowsEncoder, type EventRow } from '@portcullis/inventory';
import { instantMs } from '../../src/platform/instant';

/** PostgreSQL's binary array format, read back: one dimension (or none), elements as raw bytes. */
function readArray(buf: Buffer): { elementOid: number; items: Array<Buffer | null> } {
  const ndim = buf.readInt32BE(0);
  assert.equal(buf.readInt32BE(4), 0, 'no null bitmap flag');
  const elementOid = buf.readUInt32BE(8);
  if (ndim === 0) {
    assert.equal(buf.length, 12);
    return { elementOid, items: [] };
  }
  assert.equal(ndim, 1);
  const count = buf.readInt32BE(12);
  assert.equal(buf.readInt32BE(16), 1, 'lower bound 1');
  const items: Array<Buffer | null> = [];
  let at = 20;
  for (let i = 0; i < count; i++) {
    const n = buf.readInt32BE(at);
    assert.ok(n >= -1, `element ${i}: length ${n}`);
    items.push(n < 0 ? null : buf.subarray(at + 4, at + 4 + n));
    at += 4 + Math.max(n, 0);
  }
  assert.equal(at, buf.length, 'nothing after the last element');
  return { elementOid, items };
}

/** PostgreSQL's binary record format, read back: each attribute's type OID and raw bytes. */
function readRecord(buf: Buffer): Array<{ oid: number; value: Buffer | null }> {
  const count = buf.readInt32BE(0);
  const out: Array<{ oid: number; value: Buffer | null }> = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const oid = buf.readUInt32BE(at);
    const n = buf.readInt32BE(at + 4);
    assert.ok(n >= -1, `attribute ${i}: length ${n} (-1 is null, nothing else below 0)`);
    out.push({ oid, value: n < 0 ? null : buf.subarray(at + 8, at + 8 + n) });
    at += 8 + Math.max(n, 0);
  }
  assert.equal(at, buf.length, 'nothing after the last attribute');
  return out;
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const timeOf = (b: Buffer) => Number(b.readBigInt64BE(0)) / 1000 + PG_EPOCH_MS;
const texts = (b: Buffer) => readArray(b).items.map((x) => x!.toString('utf8'));

function row(overrides: Partial<EventRow> = {}): EventRow {
  const t = Date.UTC(2026, 11, 3, 10, 15, 30, 123);
  return {
    id: '0F8FAD5B-D9CB-469F-A165-70867728950E',
    t,
    hr: Date.UTC(2026, 11, 3, 10),
    dy: Date.UTC(2026, 11, 3),
    ns: 'shop',
    k: 'Pod',
    av: 'v1',
    n: '',
    uid: null,
    ru: 'f1e2d3c4-0000-4000-8000-000000000000',
    ok: 'Deployment',
    on: 'web',
    op: 'CREATE',
    dr: false,
    d: 'AUDITED',
    br: 7,
    u: 'system:serviceaccount:kube-system:replicaset-controller',
    g: ['system:serviceaccounts'],
    im: [],
    tm: ['c:x', 'n:shop'],
    f: '[{"ruleId":"resource-limits"}]',
    h: 'ab'.repeat(32),
    ks: ['AUDITED::', 'AUDITED:resource-limits:p'],
    ...overrides,
  };
}

describe("the ingest statement's binary events parameter", () => {
  it("writes an array of records whose attributes are the type's, with the values as PostgreSQL receives them", () => {
    const long = 'x'.repeat(500);
    const rows = [
      row(),
      row({
        uid: 'ünïcødé ✓ 日本',
        br: null,
        h: null,
        dr: true,
        g: [],
        im: ['registry.example.com/a:1', long, 'ü'],
        t: Date.UTC(1999, 11, 31, 23, 59, 59, 999),
      }),
    ];
    const enc = new EventRowsEncoder(424242, rows.length);
    for (const r of rows) enc.add(r);
    const array = readArray(enc.finish());
    assert.equal(array.elementOid, 424242);
    assert.equal(array.items.length, 2);
    for (const [i, item] of array.items.entries()) {
      const r = rows[i]!;
      const attrs = readRecord(item!);
      assert.deepEqual(
        attrs.map((a) => a.oid),
        EVENT_ROW_ATTRIBUTES.map(([, oid]) => oid),
      );
      const v = Object.fromEntries(EVENT_ROW_ATTRIBUTES.map(([name], j) => [name, attrs[j]!.value]));
      assert.equal(v['id']!.toString('hex'), r.id.replace(/-/g, '').toLowerCase());
      assert.equal(timeOf(v['t']!), r.t, 'microseconds since 2000, before 2000 too');
      assert.equal(timeOf(v['hr']!), r.hr);
      assert.equal(timeOf(v['dy']!), r.dy);
      for (const name of ['ns', 'k', 'av', 'n', 'ok', 'on', 'op', 'd', 'u', 'f'] as const)
        assert.equal(v[name]!.toString('utf8'), r[name], name);
      assert.equal(v['uid']?.toString('utf8') ?? null, r.uid);
      assert.equal(v['ru']?.toString('utf8') ?? null, r.ru);
      assert.deepEqual(v['dr'], Buffer.from([r.dr ? 1 : 0]));
      assert.equal(v['br'] === null ? null : v['br']!.readInt32BE(0), r.br);
      assert.equal(v['h']?.toString('hex') ?? null, r.h);
      for (const name of ['g', 'im', 'tm', 'ks'] as const) {
        assert.equal(readArray(v[name]!).elementOid, 25, `${name}: text elements`);
        assert.deepEqual(texts(v[name]!), r[name], name);
      }
    }
  });

  it('grows past its first estimate, and writes a lone surrogate as U+FFFD', () => {
    const many = Array.from({ length: 50 }, (_, i) =>
      row({
        tm: Array.from({ length: 40 }, (_, j) => `i:registry.example.com/team-${i}/image-${j}:1.0`),
        n: `a\ud800b-${i}`,
      }),
    );
    const enc = new EventRowsEncoder(1, 1);
    for (const r of many) enc.add(r);
    const { items } = readArray(enc.finish());
    assert.equal(items.length, 50);
    const last = readRecord(items[49]!);
    const name = last[EVENT_ROW_ATTRIBUTES.findIndex(([n]) => n === 'n')]!.value!.toString('utf8');
    assert.equal(name, 'a\ufffdb-49');
    assert.equal(texts(last[EVENT_ROW_ATTRIBUTES.findIndex(([n]) => n === 'tm')]!.value!).length, 40);
  });

  it('writes a null attribute whole where it meets the end of the buffer', () => {
    // many alignments of the rows against the first buffer's end (4,096 bytes): an empty name
    // reserves little room, so the null uid's 8-byte header after it straddles the end for some
    for (let pad = 0; pad < 600; pad++) {
      const short = {
        k: 'Pod',
        av: 'v1',
        n: '',
        ok: 'D',
        on: 'w',
        u: 'u',
        g: [],
        im: [],
        tm: ['c:x'],
        f: '[]',
        ks: ['ALLOWED::'],
      };
      const rows = Array.from({ length: 40 }, (_, i) =>
        row({ ...short, ns: 'x'.repeat((pad % 97) + i), uid: null, ru: null, br: null, h: null }),
      );
      const enc = new EventRowsEncoder(1, 1);
      for (const r of rows) enc.add(r);
      const { items } = readArray(enc.finish());
      for (const [i, item] of items.entries()) {
        const attrs = readRecord(item!);
        const v = (name: string) => attrs[EVENT_ROW_ATTRIBUTES.findIndex(([n]) => n === name)]!;
        assert.equal(v('ns').value!.toString('utf8'), rows[i]!.ns, `pad ${pad}, row ${i}`);
        for (const name of ['uid', 'ru', 'br', 'h']) assert.equal(v(name).value, null, `pad ${pad}, row ${i}, ${name}`);
      }
    }
  });

  it('hands its buffer to the next encoder once released, which writes its own rows whole over the old bytes', () => {
    // the same memory is the same ArrayBuffer at the same offset: a Buffer's .buffer alone
    // can be a slab that unrelated buffers share
    const sameMemory = (a: Buffer, b: Buffer) => a.buffer === b.buffer && a.byteOffset === b.byteOffset;
    const first = new EventRowsEncoder(1, 3);
    for (let i = 0; i < 3; i++) first.add(row({ ns: 'n'.repeat(200 + i), tm: ['c:first', `n:${i}`] }));
    const firstBytes = first.finish();
    first.release();
    first.release(); // a second release gives nothing back twice
    const second = new EventRowsEncoder(2, 2);
    const third = new EventRowsEncoder(3, 2); // nothing spare left: its own buffer
    const rows = [row({ ns: 'a', uid: null, br: null, h: null }), row({ ns: 'b', tm: [] })];
    for (const r of rows) {
      second.add(r);
      third.add(r);
    }
    const out = second.finish();
    assert.ok(sameMemory(out, firstBytes), 'the released memory is reused');
    assert.ok(!sameMemory(third.finish(), firstBytes), 'a second encoder does not get the same memory');
    const { elementOid, items } = readArray(out);
    assert.equal(elementOid, 2);
    assert.equal(items.length, 2);
    for (const [i, item] of items.entries()) {
      const attrs = readRecord(item!);
      const v = (name: string) => attrs[EVENT_ROW_ATTRIBUTES.findIndex(([n]) => n === name)]!.value;
      assert.equal(v('ns')!.toString('utf8'), rows[i]!.ns);
      assert.deepEqual(texts(v('tm')!), rows[i]!.tm);
    }
    assert.equal(readRecord(items[0]!)[EVENT_ROW_ATTRIBUTES.findIndex(([n]) => n === 'uid')]!.value, null);
  });

  it("keeps its rows in memory of its own, never in a slab of Node's buffer pool that other buffers share", () => {
    // Buffer.allocUnsafe serves sizes below Buffer.poolSize / 2 (32 KiB on Node 26) from
    // a shared slab; the next small allocation would then share the encoder's ArrayBuffer
    for (let i = 0; i < 40; i++) {
      const enc = new EventRowsEncoder(1, 1 + (i % 3));
      enc.add(row({ ns: `ns-${i}` }));
      const out = enc.finish();
      const neighbour = Buffer.allocUnsafe(16);
      assert.notEqual(out.buffer, neighbour.buffer, `encoder ${i} shares its memory with another buffer`);
      assert.equal(out.byteOffset, 0, `encoder ${i} starts inside a larger allocation`);
    }
  });

  it('writes an empty batch as an empty array', () => {
    assert.deepEqual(readArray(new EventRowsEncoder(5, 0).finish()), { elementOid: 5, items: [] });
  });
});

describe('event times (instantMs)', () => {
  it('reads the instant a timestamp names, rounded as PostgreSQL stores it in timestamptz(3)', () => {
    const cases: Array<[string, string | undefined]> = [
      ['2026-12-03T10:15:30Z', '2026-12-03T10:15:30.000Z'],
      ['2026-12-03T10:15:30.1Z', '2026-12-03T10:15:30.100Z'],
      ['2026-12-03T10:15:30.1234Z', '2026-12-03T10:15:30.123Z'],
      ['2026-12-03T10:15:30.1235Z', '2026-12-03T10:15:30.124Z'], // half a millisecond: away from 2000
      ['2026-12-03T10:15:30.0000005Z', '2026-12-03T10:15:30.000Z'], // half a microsecond: to even (0)
      ['2026-12-03T10:15:30.9995Z', '2026-12-03T10:15:31.000Z'],
      ['2026-12-03T10:15:30.999999999Z', '2026-12-03T10:15:31.000Z'],
      ['1999-12-31T23:59:59.9985Z', '1999-12-31T23:59:59.998Z'], // before 2000 "away" is earlier
      ['2026-12-03T10:15:30+05:30', '2026-12-03T04:45:30.000Z'],
      ['2026-12-03T00:15:30-01:00', '2026-12-03T01:15:30.000Z'],
      ['2026-12-31T23:59:60Z', '2027-01-01T00:00:00.000Z'], // a leap second
      ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
      ['2000-02-29T12:00:00Z', '2000-02-29T12:00:00.000Z'],
      ['0099-06-01T00:00:00Z', '0099-06-01T00:00:00.000Z'], // not 1999: Date.UTC's two-digit years do not apply
      ['2026-02-29T12:00:00Z', undefined],
      ['1900-02-29T12:00:00Z', undefined],
      ['2026-04-31T12:00:00Z', undefined],
      ['2026-02-30T10:00:00Z', undefined],
      ['0000-01-01T00:00:00Z', undefined],
      ['2026-12-03 10:15:30Z', undefined],
      ['', undefined],
    ];
    for (const [text, iso] of cases) {
      const ms = instantMs(text);
      assert.equal(ms === undefined ? undefined : new Date(ms).toISOString().replace(/^\+0*(\d{4})/, '$1'), iso, text);
    }
  });
});
