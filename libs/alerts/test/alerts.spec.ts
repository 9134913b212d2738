/**
 * libs/alerts without the apps: which addresses a destination may not reach, the SSRF-refusing
 * client against a real loopback HTTPS receiver (with a substituted resolver standing in for
 * DNS), Standard Webhooks signing as a receiver verifies it, sealing at rest, the outcome of each
 * answer, the backoff, and the checks on an alert before it is stored.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  SecretBox,
  SiemBatcher,
  backoffDelay,
  checkAlert,
  checkResolvedHost,
  checkUrlShape,
  classifyAnswer,
  destinationAad,
  forbiddenAddress,
  generateWebhookSecret,
  safePost,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
  type Alert,
  type SafeHttpOptions,
} from '@portcullis/alerts';
import { testTls } from '@portcullis/testing';

describe('forbiddenAddress', () => {
  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['169.254.10.10', /link-local/],
    ['169.254.169.254', /metadata/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /reserved/],
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fe80::1%eth0', /link-local/],
    ['ff02::1', /multicast/],
    ['fd00:ec2::254', /metadata/],
    ['::ffff:127.0.0.1', /IPv4-mapped form of a loopback/],
    ['::ffff:7f00:1', /IPv4-mapped form of a loopback/],
    ['::ffff:169.254.169.254', /IPv4-mapped form of a cloud metadata/],
    ['64:ff9b::a00:1', /NAT64 form of a private/],
    ['2002:7f00:1::1', /6to4 form of a loopback/],
    ['::127.0.0.1', /IPv4-compatible/],
  ];
  for (const [address, why] of refused)
    it(`refuses ${address}`, () => assert.match(forbiddenAddress(address) ?? 'allowed', why));
  for (const address of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])
    it(`allows ${address}`, () => assert.equal(forbiddenAddress(address), null));
});

describe('destination URLs', () => {
  it('need https, a host and no credentials, naming what is wrong', () => {
    assert.match(checkUrlShape('http://hooks.example.com/x', false)!, /must use https \(got http\)/);
    assert.match(checkUrlShape('not a url', false)!, /is not a URL/);
    assert.match(checkUrlShape('https://u:p@hooks.example.com/', false)!, /user name or password/);
    assert.equal(checkUrlShape('https://hooks.slack.com/services/T/B/x', false), null);
    // development and tests may name loopback; https stays required
    assert.equal(checkUrlShape('https://127.0.0.1:9443/x', true), null);
    assert.match(checkUrlShape('http://127.0.0.1:9443/x', true)!, /https/);
  });

  it('are refused when a name resolves to a forbidden address, any of its addresses', async () => {
    const resolve = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    assert.match(
      (await checkResolvedHost('https://mixed.example.test/', { allowPrivate: false, resolve }))!,
      /host mixed\.example\.test resolves to 10\.0\.0\.7, a private address/,
    );
    assert.equal(await checkResolvedHost('https://mixed.example.test/', { allowPrivate: true, resolve }), null);
  });
});

describe('safePost against a loopback receiver', () => {
  const tls = testTls();
  const hits: string[] = [];
  let server: https.Server;
  let port = 0;
  let http: SafeHttpOptions;

  before(async () => {
    server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/slow') return; // never answers
      if (req.url === '/busy') {
        res.writeHead(429, { 'retry-after': '7' });
        return void res.end();
      }
      res.writeHead(req.url === '/moved' ? 301 : 204, req.url === '/moved' ? { location: '/elsewhere?sig=1' } : {});
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    http = {
      allowPrivate: true,
      extraCa: tls.caPem,
      connectTimeoutMs: 2000,
      responseTimeoutMs: 1000,
      maxResponseBytes: 1024,
    };
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('sends when private destinations are allowed (development)', async () => {
    assert.deepEqual(await safePost(`https://localhost:${port}/ok`, '{}', {}, http), { status: 204 });
  });

  it('answers a redirect without following it, and reads Retry-After', async () => {
    const moved = await safePost(`https://127.0.0.1:${port}/moved`, '{}', {}, http);
    assert.equal(moved.status, 301);
    assert.equal(moved.location, `https://127.0.0.1:${port}/elsewhere`);
    assert.ok(!hits.some((h) => h.startsWith('/elsewhere')));
    const busy = await safePost(`https://127.0.0.1:${port}/busy`, '{}', {}, http);
    assert.deepEqual(busy, { status: 429, retryAfterMs: 7000 });
  });

  it('refuses a name that resolves to loopback at connect time (DNS rebinding), sending nothing', async () => {
    let calls = 0;
    // the first resolution (the save-time check) is public; the connection's own lookup gets 127.0.0.1
    const resolve = async () =>
      ++calls === 1 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    const strict: SafeHttpOptions = { ...http, allowPrivate: false, resolve };
    const u = `https://rebind.example.test:${port}/rebound`;
    assert.equal(await checkResolvedHost(u, strict), null);
    const before = hits.length;
    await assert.rejects(safePost(u, '{}', {}, strict), (e: Error & { permanent?: boolean }) => {
      assert.match(e.message, /host rebind\.example\.test resolves to 127\.0\.0\.1, a loopback address: refused/);
      assert.equal(e.permanent, true);
      return true;
    });
    assert.equal(hits.length, before, 'the receiver saw nothing');
  });

  it('refuses loopback literals in production before connecting', async () => {
    const strict: SafeHttpOptions = { ...http, allowPrivate: false };
    await assert.rejects(safePost(`https://127.0.0.1:${port}/x`, '{}', {}, strict), /loopback address: refused/);
    await assert.rejects(safePost(`https://[::1]:${port}/x`, '{}', {}, strict), /loopback address: refused/);
  });

  it('times out a receiver that never answers, and fails TLS to an untrusted certificate', async () => {
    await assert.rejects(safePost(`https://127.0.0.1:${port}/slow`, '{}', {}, http), /no answer within 1000 ms/);
    const { extraCa: _omit, ...untrusted } = http;
    await assert.rejects(safePost(`https://127.0.0.1:${port}/ok`, '{}', {}, untrusted), /TLS with 127\.0\.0\.1 failed/);
  });

  it('a SIEM batch collects alerts into one NDJSON POST', async () => {
    const before = hits.filter((h) => h === '/siem').length;
    const batcher = new SiemBatcher(http, 3, 10_000);
    const target = { id: randomUUID(), kind: 'SIEM' as const, url: `https://127.0.0.1:${port}/siem`, secrets: [] };
    const outcomes = await Promise.all([alert(), alert(), alert()].map((a) => batcher.add(target, a)));
    assert.deepEqual(outcomes, [
      { result: 'delivered', status: 204 },
      { result: 'delivered', status: 204 },
      { result: 'delivered', status: 204 },
    ]);
    assert.equal(hits.filter((h) => h === '/siem').length - before, 1, 'one request for three alerts');
  });
});

describe('Standard Webhooks signing', () => {
  it('matches the specification example', () => {
    // from https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    assert.equal(
      signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('verifies with any secret listed, refuses a change, another secret and an old timestamp', () => {
    const [s1, s2] = [generateWebhookSecret(), generateWebhookSecret()];
    const body = JSON.stringify({ type: 'alert.test' });
    const h = webhookHeaders([s2, s1], 'id-1', 1_800_000_000, body);
    const sig = { id: h['webhook-id']!, timestamp: h['webhook-timestamp']!, signature: h['webhook-signature']! };
    assert.ok(verifyWebhook(s1, sig, body, 1_800_000_010));
    assert.ok(verifyWebhook(s2, sig, body, 1_800_000_010));
    assert.ok(!verifyWebhook(generateWebhookSecret(), sig, body, 1_800_000_010));
    assert.ok(!verifyWebhook(s1, sig, body + ' ', 1_800_000_010));
    assert.ok(!verifyWebhook(s1, { ...sig, id: 'id-2' }, body, 1_800_000_010));
    assert.ok(!verifyWebhook(s1, sig, body, 1_800_001_000), 'outside the replay window');
  });
});

describe('SecretBox', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };
  it('opens what it sealed, only with the same associated data', () => {
    const box = new SecretBox([k1]);
    const sealed = box.seal('https://hooks.slack.com/services/T/B/secret', destinationAad('t', 'd', 'url'));
    assert.match(sealed, /^v1:k1:/);
    assert.ok(!sealed.includes('secret'));
    assert.equal(box.open(sealed, destinationAad('t', 'd', 'url')), 'https://hooks.slack.com/services/T/B/secret');
    assert.throws(() => box.open(sealed, destinationAad('t', 'other', 'url')), /failed authentication/);
  });
  it('rotates: the first key seals, every listed key opens; an unlisted key is named', () => {
    const old = new SecretBox([k1]).seal('x', 'aad');
    const rotated = new SecretBox([k2, k1]);
    assert.equal(rotated.open(old, 'aad'), 'x');
    assert.match(rotated.seal('y', 'aad'), /^v1:k2:/);
    assert.throws(() => new SecretBox([k2]).open(old, 'aad'), /key "k1", which is not in SECRETS_ENCRYPTION_KEYS/);
    assert.throws(() => new SecretBox([]).seal('x', 'aad'), /SECRETS_ENCRYPTION_KEYS/);
  });
});

describe('delivery outcomes and backoff', () => {
  it('2xx delivered; 408/425/429/5xx retried with Retry-After; 3xx and other 4xx dead', () => {
    assert.equal(classifyAnswer({ status: 202 }).result, 'delivered');
    for (const status of [408, 425, 500, 502, 503]) assert.equal(classifyAnswer({ status }).result, 'retry');
    assert.deepEqual(classifyAnswer({ status: 429, retryAfterMs: 5000 }), {
      result: 'retry',
      status: 429,
      reason: 'answered 429',
      retryAfterMs: 5000,
    });
    for (const status of [301, 400, 401, 403, 404, 410, 413]) assert.equal(classifyAnswer({ status }).result, 'dead');
  });
  it('doubles from the base with +-50 % jitter, capped, never below Retry-After', () => {
    const r = { backoffBaseMs: 1000, backoffMaxMs: 8000 };
    assert.equal(
      backoffDelay(1, r, 0, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(3, r, 0, () => 0.5),
      4000,
    );
    assert.equal(
      backoffDelay(10, r, 0, () => 0.5),
      8000,
    );
    assert.equal(
      backoffDelay(1, r, 0, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(1, r, 0, () => 0.999),
      1499,
    );
    assert.equal(
      backoffDelay(1, r, 6000, () => 0.5),
      6000,
    );
  });
});

describe('checkAlert', () => {
  it('accepts a well-formed alert and names the first bad field', () => {
    assert.equal(checkAlert(alert()), null);
    assert.match(checkAlert({ ...alert(), id: 'x' })!, /^id must be a uuid/);
    assert.match(checkAlert({ ...alert(), title: 'two\nlines' })!, /^title must be one line/);
    assert.match(checkAlert({ ...alert(), count: 0 })!, /^count/);
    assert.match(checkAlert({ ...alert(), kind: 'NOPE' as Alert['kind'] })!, /^kind must be one of/);
    assert.match(checkAlert({ ...alert(), samples: Array.from({ length: 11 }, () => ({})) })!, /^samples/);
  });
});

function alert(): Alert {
  return {
    id: randomUUID(),
    tenantId: randomUUID(),
    ruleId: null,
    ruleName: null,
    kind: 'TEST',
    severity: 'INFO',
    title: 'test',
    summary: 'test',
    occurredAt: new Date().toISOString(),
    count: 1,
  };
}
