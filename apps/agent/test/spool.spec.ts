import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { generateSigningKey } from '@portcullis/bundle';
import type { AdmissionEvent } from '@portcullis/contracts';
import { ApiClient } from '@portcullis/admission';
import { Backoff } from '../src/backoff';
import { Spool, type SpoolOptions } from '../src/spool/spool';
import { EventUploader } from '../src/spool/uploader';
import { CLUSTER, ControlPlane, eventually, newAgentToken, tempDir, testTls, type TestTls } from '@portcullis/testing';

const event = (o: Partial<AdmissionEvent> = {}): AdmissionEvent => ({
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  operation: 'CREATE',
  dryRun: false,
  kind: 'Pod',
  apiVersion: 'v1',
  namespace: 'shop',
  name: 'web',
  owner: { kind: 'Deployment', name: 'web' },
  requestingUser: { username: 'alice' },
  images: ['nginx:1.27'],
  decision: 'ALLOWED',
  bundleRevision: 3,
  findings: [],
  ...o,
});
const line = (e: AdmissionEvent) => JSON.stringify(e);
const options = (dir: string, o: Partial<SpoolOptions> = {}): SpoolOptions => ({
  dir,
  maxEvents: 1000,
  maxBytes: 10 * 1024 * 1024,
  segmentBytes: 4096,
  ...o,
});

describe('on-disk spool', () => {
  it('appends, reads in order across segments, and forgets only what was acknowledged', async () => {
    const dir = tempDir();
    const spool = new Spool(options(dir));
    spool.open();
    const ids = Array.from({ length: 60 }, () => randomUUID());
    for (const id of ids) assert.equal(await spool.append(line(event({ eventId: id }))), true);
    assert.ok(fs.readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length > 2, 'small segments rotate');
    assert.equal(spool.depth, 60);
    const seen: string[] = [];
    for (;;) {
      const batch = await spool.read(25, 1024 * 1024);
      if (batch.lines.length === 0) break;
      seen.push(...batch.lines.map((l) => (JSON.parse(l.toString('utf8')) as AdmissionEvent).eventId));
      await spool.ack(batch);
    }
    assert.deepEqual(seen, ids);
    assert.equal(spool.depth, 0);
    await spool.close();
  });

  it('concurrent appends are written together (group commit), in call order, each resolved once it is on disk', async () => {
    const dir = tempDir();
    const spool = new Spool(options(dir, { segmentBytes: 1024 * 1024 }));
    spool.open();
    const ids: string[] = Array.from({ length: 300 }, () => randomUUID());
    const results = await Promise.all(ids.map((id) => spool.append(line(event({ eventId: id })))));
    assert.ok(results.every(Boolean));
    const onDisk = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ndjson'))
      .sort()
      .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => (JSON.parse(l) as AdmissionEvent).eventId);
    assert.deepEqual(onDisk, ids);
    await spool.close();
    assert.equal(await spool.append(line(event())), false, 'a closed spool takes nothing');
  });

  it('survives a restart: unacknowledged events are read again, acknowledged ones never; a torn last line is cut', async () => {
    const dir = tempDir();
    const first = new Spool(options(dir, { segmentBytes: 1024 * 1024 }));
    first.open();
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const id of ids) await first.append(line(event({ eventId: id })));
    const batch = await first.read(4, 1024 * 1024);
    await first.ack(batch);
    await first.close();
    // a write cut short (a crash between bytes, e.g. power loss) leaves half a line
    const segment = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ndjson'))
      .sort()
      .pop()!;
    fs.appendFileSync(path.join(dir, segment), '{"eventId":"half');

    const second = new Spool(options(dir, { segmentBytes: 1024 * 1024 }));
    const recovered = second.open();
    assert.equal(recovered.recoveredEvents, 6);
    assert.equal(recovered.truncatedBytes, '{"eventId":"half'.length);
    const newer = randomUUID();
    await second.append(line(event({ eventId: newer })));
    const seen: string[] = [];
    for (;;) {
      const b = await second.read(100, 1024 * 1024);
      if (b.lines.length === 0) break;
      seen.push(...b.lines.map((l) => (JSON.parse(l.toString('utf8')) as AdmissionEvent).eventId));
      await second.ack(b);
    }
    assert.deepEqual(seen, [...ids.slice(4), newer]);
    await second.close();
  });

  it('is bounded: beyond maxEvents or maxBytes new events are dropped and counted', async () => {
    const dir = tempDir();
    const spool = new Spool(options(dir, { maxEvents: 5 }));
    spool.open();
    for (let i = 0; i < 8; i++) await spool.append(line(event()));
    assert.equal(spool.depth, 5);
    assert.equal(spool.dropped, 3);
    await spool.close();
    const bySize = new Spool(options(tempDir(), { maxBytes: 64 * 1024, segmentBytes: 8192 }));
    bySize.open();
    let accepted = 0;
    for (let i = 0; i < 400; i++) if (await bySize.append(line(event()))) accepted++;
    assert.ok(accepted > 100 && accepted < 400, `accepted ${accepted}`);
    assert.equal(bySize.dropped, 400 - accepted);
    await bySize.close();
  });
});

describe('event uploader against a real HTTPS server validating with libs/contracts', () => {
  const token = newAgentToken();
  let tls: TestTls;
  let api: ControlPlane;
  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, generateSigningKey()).start();
  });
  after(() => api.stop());

  const uploader = (spool: Spool, batchSize = 50, flushIntervalMs = 20) => {
    const client = new ApiClient(new URL(api.url), token, CLUSTER, 'test', tls.caPem);
    const u = new EventUploader(
      spool,
      client,
      { batchSize, flushIntervalMs, maxBatchBytes: 1024 * 1024 },
      new Backoff(10, 50),
      pino({ level: 'silent' }),
    );
    return { u, client };
  };

  it('uploads gzipped batches in order, retries through 503s without losing or repeating events', async () => {
    const spool = new Spool(options(tempDir()));
    spool.open();
    const ids: string[] = Array.from({ length: 230 }, () => randomUUID());
    api.eventsUnavailable = true;
    const { u, client } = uploader(spool);
    u.start();
    for (const id of ids.slice(0, 100)) await spool.append(line(event({ eventId: id })));
    await eventually('an upload failure to be recorded', () => u.lastError !== null);
    assert.equal(spool.depth, 100);
    api.eventsUnavailable = false;
    for (const id of ids.slice(100)) await spool.append(line(event({ eventId: id })));
    await eventually('the spool to drain', () => spool.depth === 0 && ids.every((id) => api.events.has(id)));
    await u.close();
    client.close();
    await spool.close();
    assert.ok(api.batches.every((b) => b.gzip && b.events <= 50));
    const mine = api.received.filter((id) => ids.includes(id));
    assert.deepEqual(mine, ids, 'each event exactly once, in spool order');
    assert.equal(u.lastError, null);
  });

  it('an event the API refuses is isolated by splitting the batch, dropped and counted; the rest arrive', async () => {
    const spool = new Spool(options(tempDir()));
    spool.open();
    const good = Array.from({ length: 9 }, () => randomUUID());
    for (const id of good.slice(0, 4)) await spool.append(line(event({ eventId: id })));
    await spool.append(line({ ...event(), decision: 'DENIED' })); // no finding makes it DENIED: the contract refuses it
    for (const id of good.slice(4)) await spool.append(line(event({ eventId: id })));
    const refusalsBefore = api.refusals.length;
    const { u, client } = uploader(spool);
    u.start();
    await eventually('the good events to arrive', () => spool.depth === 0 && good.every((id) => api.events.has(id)));
    await u.close();
    client.close();
    await spool.close();
    assert.equal(spool.dropped, 1);
    assert.ok(
      api.refusals.slice(refusalsBefore).some((m) => /decision: is DENIED but the findings make it ALLOWED/.test(m)),
      api.refusals.join('\n'),
    );
  });

  it('under steady arrivals only full batches go back to back; a partial batch waits for a full one or the flush interval', async () => {
    const spool = new Spool(options(tempDir(), { segmentBytes: 1024 * 1024 }));
    spool.open();
    for (let i = 0; i < 25; i++) await spool.append(line(event()));
    // two admissions arrive while each upload is in flight
    api.onEventBatch = async () => {
      await spool.append(line(event()));
      await spool.append(line(event()));
    };
    const before = api.batches.length;
    const { u, client } = uploader(spool, 10, 60_000);
    try {
      u.start();
      // 10 (full) -> 10 (full) -> 9 (partial): then it waits with 2 spooled, as the interval is a minute
      await eventually('three uploads', () => api.batches.length - before >= 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        api.batches.slice(before).map((b) => b.events),
        [10, 10, 9],
        'a partial batch ended the run of uploads',
      );
      assert.equal(spool.depth, 2);
      // a full batch's worth wakes it again: 10 (full) -> 2 (partial), then it waits
      for (let i = 0; i < 8; i++) await spool.append(line(event()));
      await eventually('five uploads', () => api.batches.length - before >= 5);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        api.batches.slice(before).map((b) => b.events),
        [10, 10, 9, 10, 2],
      );
      assert.equal(spool.depth, 2);
    } finally {
      api.onEventBatch = null;
      await u.close();
      client.close();
      await spool.close();
    }
  });

  it('reports whether a read stopped at its bound (more waiting) or at the end of what is spooled', async () => {
    const dir = tempDir();
    const spool = new Spool(options(dir, { segmentBytes: 1024 * 1024 }));
    spool.open();
    for (let i = 0; i < 5; i++) await spool.append(line(event()));
    assert.equal((await spool.read(10, 1024 * 1024)).full, false, 'all 5 read: the spool is drained');
    assert.equal((await spool.read(3, 1024 * 1024)).full, true, 'stopped at 3 events');
    const one = Buffer.byteLength(line(event()));
    const bytes = await spool.read(10, one * 2 + 10);
    assert.equal(bytes.lines.length, 2);
    assert.equal(bytes.full, true, 'stopped at the byte bound');
    await spool.close();
  });
});
