import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { reviewJson } from '@portcullis/admission';
import { SECURITY_HEADERS, deadlineCheckInterval } from '@portcullis/contracts';
import type { AdmissionHandler } from './admission/admission-handler';
import type { AgentConfig } from './config';
import type { AgentMetrics } from './metrics';

export interface Probes {
  /** Ready: the webhook listens and the persisted bundle (if any) was loaded. */
  readonly ready: () => boolean;
  readonly state: () => Record<string, unknown>;
}

/**
 * The HTTPS webhook (POST /validate, plus the probes for kubelet over HTTPS) and a
 * plain-HTTP port for /healthz, /readyz and /metrics (Prometheus).
 */
export class AgentServers {
  private webhook: https.Server | null = null;
  private plain: http.Server | null = null;
  private tlsWatch: NodeJS.Timeout | null = null;
  private tlsStamp = '';

  constructor(
    private readonly handler: AdmissionHandler,
    private readonly metrics: AgentMetrics,
    private readonly probes: Probes,
    private readonly options: {
      tls: { certFile: string; keyFile: string; reloadIntervalMs: number };
      host: string;
      port: number;
      metricsPort: number;
      maxBodyBytes: number;
      http: AgentConfig['http'];
    },
    private readonly log: Logger,
  ) {}

  async listen(): Promise<{ webhookPort: number; metricsPort: number }> {
    const { cert, key } = this.readTls();
    const deadlines = serverDeadlines(this.options.http);
    this.webhook = https.createServer({ cert, key, minVersion: 'TLSv1.2', ...deadlines }, (req, res) =>
      this.route(req, res, true),
    );
    this.webhook.keepAliveTimeout = this.options.http.keepAliveTimeoutMs;
    this.plain = http.createServer(deadlines, (req, res) => this.route(req, res, false));
    this.plain.keepAliveTimeout = this.options.http.keepAliveTimeoutMs;
    const webhookPort = await listenOn(this.webhook, this.options.port, this.options.host);
    const metricsPort = await listenOn(this.plain, this.options.metricsPort, this.options.host);
    // cert-manager renews the certificate in place: pick it up without a restart
    this.tlsWatch = setInterval(() => this.reloadTls(), this.options.tls.reloadIntervalMs);
    this.tlsWatch.unref();
    return { webhookPort, metricsPort };
  }

  async close(): Promise<void> {
    if (this.tlsWatch) clearInterval(this.tlsWatch);
    const closing = [this.webhook, this.plain].flatMap((s) =>
      s
        ? [
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
            }),
          ]
        : [],
    );
    await Promise.all(closing);
  }

  private readTls(): { cert: Buffer; key: Buffer } {
    const cert = fs.readFileSync(this.options.tls.certFile);
    const key = fs.readFileSync(this.options.tls.keyFile);
    this.tlsStamp = createHash('sha256').update(cert).update(key).digest('hex');
    return { cert, key };
  }

  private reloadTls(): void {
    try {
      const previous = this.tlsStamp;
      const { cert, key } = this.readTls();
      if (this.tlsStamp !== previous) {
        this.webhook?.setSecureContext({ cert, key });
        this.log.info('webhook TLS certificate reloaded');
      }
    } catch (err) {
      this.log.error(
        { err: (err as Error).message },
        'webhook TLS certificate could not be reloaded; the previous one stays in use',
      );
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): void {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0];
    if (secure && path === '/validate') {
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST an AdmissionReview to /validate\n');
      this.validate(req, res);
      return;
    }
    if (path === '/healthz') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      const ready = this.probes.ready();
      return send(
        res,
        ready ? 200 : 503,
        'application/json',
        JSON.stringify({ status: ready ? 'ready' : 'starting', ...this.probes.state() }),
      );
    }
    if (path === '/metrics') {
      this.metrics.registry.metrics().then(
        (text) => send(res, 200, this.metrics.registry.contentType, text),
        () => send(res, 500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found\n');
  }

  private validate(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.options.maxBodyBytes) tooLarge = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) {
        const message = `portcullis: the AdmissionReview is larger than ${this.options.maxBodyBytes} bytes`;
        return send(
          res,
          413,
          'application/json',
          reviewJson('admission.k8s.io/v1', {
            uid: '',
            allowed: false,
            status: { code: 413, reason: 'RequestEntityTooLarge', message },
          }),
        );
      }
      this.handler.handle(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).then(
        (json) => send(res, 200, 'application/json', json),
        () => send(res, 500, 'application/json', '{}'),
      );
    });
  }
}

/**
 * A review's headers and body must arrive within the deadlines, or Node answers 408 and
 * closes the connection: a client trickling bytes cannot hold a webhook connection. Node
 * checks them every `connectionsCheckingInterval`: a quarter of the shorter one.
 */
function serverDeadlines(h: AgentConfig['http']): http.ServerOptions {
  return {
    headersTimeout: h.headersTimeoutMs,
    requestTimeout: h.requestTimeoutMs,
    connectionsCheckingInterval: deadlineCheckInterval(h.headersTimeoutMs, h.requestTimeoutMs),
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function listenOn(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
