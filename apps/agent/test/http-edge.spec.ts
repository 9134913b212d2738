/**
 * The agent's two servers against slow and curious clients: a review trickled byte by
 * byte is cut with 408, the answers carry security headers, and no path a caller sends
 * becomes a metrics series.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { generateSigningKey } from '@portcullis/bundle';
import { Agent } from '../src/agent';
import { loadAgentConfig } from '../src/config';
import {
  ControlPlane,
  agentEnv,
  memoryLogger,
  newAgentToken,
  postReview,
  reviewOf,
  tempDir,
  testTls,
  type TestTls,
} from '@portcullis/testing';

describe('agent HTTP edge (in process, deadlines of 400 ms for headers, 800 ms for a request)', () => {
  const token = newAgentToken();
  let tls: TestTls;
  let api: ControlPlane;
  let ports: { webhookPort: number; metricsPort: number; stop(): Promise<void> };

  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, generateSigningKey()).start();
    const env = agentEnv({
      dir: tempDir(),
      apiUrl: api.url,
      token,
      jwks: api.jwks,
      tls,
      extra: { PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS: '400', PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS: '800' },
    });
    ports = await new Agent(loadAgentConfig(env), memoryLogger().log).start();
  });
  after(async () => {
    await ports?.stop();
    await api?.stop();
  });

  /**
   * Sends `head` at once, then one byte of `body` per tick, until the server answers and closes.
   * A byte that crosses the server's close makes the kernel reset the connection, which may
   * discard the 408 before it is read: `reset` says the server cut it that way.
   */
  function trickle(
    socket: Socket,
    ready: 'connect' | 'secureConnect',
    head: string,
    body: string,
    everyMs: number,
  ): Promise<{ answer: string; bytesSent: number; reset: boolean }> {
    return new Promise((resolve, reject) => {
      let answer = '';
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const begin = () => {
        socket.write(head);
        timer = setInterval(() => {
          if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
        }, everyMs);
      };
      socket.once(ready, begin);
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      let reset = false;
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? (reset = true) : reject(err)));
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer, bytesSent: sent, reset });
      });
    });
  }

  it('a review trickled byte by byte to the HTTPS webhook is answered 408 and the connection closed', async () => {
    const body = JSON.stringify(
      reviewOf({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'slow', namespace: 'shop' },
        spec: { containers: [{ name: 'a', image: 'nginx:1.27' }] },
      }),
    );
    const socket = tlsConnect({ host: '127.0.0.1', port: ports.webhookPort, ca: tls.caPem });
    const r = await trickle(
      socket,
      'secureConnect',
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      50,
    );
    assert.ok(
      /^HTTP\/1\.1 408 /.test(r.answer) || (r.reset && r.answer === ''),
      `answered: ${JSON.stringify(r.answer.slice(0, 80))}`,
    );
    assert.ok(r.bytesSent < body.length, `the whole review (${body.length} bytes) was accepted`);
  });

  it('headers trickled to the metrics port are answered 408 and the connection closed', async () => {
    const socket = tcpConnect(ports.metricsPort, '127.0.0.1');
    const head = 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n';
    const r = await trickle(socket, 'connect', '', head, 50);
    assert.ok(
      /^HTTP\/1\.1 408 /.test(r.answer) || (r.reset && r.answer === ''),
      `answered: ${JSON.stringify(r.answer.slice(0, 80))}`,
    );
    assert.ok(r.bytesSent < head.length, 'the whole request head was accepted');
  });

  it('a review sent at once is answered, with security headers and HSTS (the webhook is HTTPS)', async () => {
    const answer = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: ports.webhookPort, ca: tls.caPem }, () =>
        socket.end('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => (text += d));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head] = text.split('\r\n\r\n');
        const [statusLine, ...lines] = head!.split('\r\n');
        resolve({
          status: Number(statusLine!.split(' ')[1]),
          headers: Object.fromEntries(
            lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
          ),
        });
      });
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    assert.equal(answer.headers['referrer-policy'], 'no-referrer');
    assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
    const review = await postReview(
      ports.webhookPort,
      tls.caPem,
      JSON.stringify(
        reviewOf({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'ok', namespace: 'shop' },
          spec: { containers: [{ name: 'a', image: 'nginx:1.27' }] },
        }),
      ),
    );
    assert.equal(review.status, 200);
  });

  it('distinct unknown paths add no metrics series', async () => {
    const series = async () =>
      (await (await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`)).text())
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('portcullis_agent_') &&
            !l.startsWith('portcullis_agent_nodejs') &&
            !l.startsWith('portcullis_agent_process'),
        )
        .map((l) => l.split(' ')[0]);
    await fetch(`http://127.0.0.1:${ports.metricsPort}/nothing`);
    const before = await series();
    for (let i = 0; i < 30; i++)
      assert.equal((await fetch(`http://127.0.0.1:${ports.metricsPort}/${randomUUID()}`)).status, 404);
    assert.deepEqual(await series(), before);
  });
});
