import * as fs from 'node:fs';
import * as path from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import { generateSigningKey, type BundlePolicy, type BundleDocument, type SigningKey } from '@portcullis/bundle';
import { validateAdmissionEventBatch, type AdmissionEvent } from '@portcullis/contracts';
import { ApiClient, ArtifactResolver } from '@portcullis/admission';
import { compileGlob } from '@portcullis/policy-engine';
import { AdmissionHandler } from '../../src/admission/admission-handler';
import { BundleStore } from '../../src/bundle/bundle-store';
import { AgentMetrics } from '../../src/metrics';
import { Spool } from '../../src/spool/spool';
import { CLUSTER, signedBundle, tempDir, type ReviewAnswer } from '@portcullis/testing';

export interface HandlerHarness {
  readonly handler: AdmissionHandler;
  readonly store: BundleStore;
  readonly spool: Spool;
  readonly key: SigningKey;
  readonly dir: string;
  review(body: unknown): Promise<ReviewAnswer['review']>;
  /** Every event spooled so far, checked against the wire contract (throws naming the problem). */
  events(): AdmissionEvent[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly policies?: readonly BundlePolicy[];
  readonly bundle?: Partial<BundleDocument>;
  readonly noBundleAction?: 'allow' | 'deny';
  readonly excluded?: readonly string[];
  /** Scan-artifact lookups go to this API (a ControlPlane). */
  readonly api?: { url: string; token: string; ca: string; key?: SigningKey };
  readonly lookupTimeoutMs?: number;
  readonly key?: SigningKey;
}

/** The webhook's handler with a real store, spool and (optionally) resolver, without the HTTPS server. */
export function handlerHarness(o: HarnessOptions = {}): HandlerHarness {
  const dir = tempDir();
  const key = o.key ?? generateSigningKey();
  const store = new BundleStore(path.join(dir, 'bundle.json'), [key], CLUSTER);
  if (o.policies) {
    const r = store.accept(signedBundle(key, 1, o.policies, o.bundle), { persist: false });
    if (r.outcome !== 'applied') throw new Error(`test bundle refused: ${JSON.stringify(r)}`);
  }
  const spool = new Spool({
    dir: path.join(dir, 'spool'),
    maxEvents: 100_000,
    maxBytes: 512 * 1024 * 1024,
    segmentBytes: 4 * 1024 * 1024,
  });
  spool.open();
  const metrics = new AgentMetrics({
    spoolDepth: () => spool.depth,
    dropped: () => spool.dropped,
    revision: () => store.revision,
  });
  const api = o.api ? new ApiClient(new URL(o.api.url), o.api.token, CLUSTER, 'test', o.api.ca) : null;
  const resolver = api
    ? new ArtifactResolver(api, [key], {
        cacheTtlMs: 60_000,
        notFoundTtlMs: 60_000,
        failureTtlMs: 1000,
        requestTimeoutMs: 5000,
      })
    : null;
  const handler = new AdmissionHandler(
    store,
    resolver,
    spool,
    {
      clusterId: CLUSTER,
      excluded: (o.excluded ?? ['portcullis-system', 'kube-system']).map((p) => compileGlob(p)),
      noBundleAction: o.noBundleAction ?? 'allow',
      lookupTimeoutMs: o.lookupTimeoutMs ?? 2000,
    },
    metrics,
    pino({ level: 'silent' }),
  );
  const segmentsDir = path.join(dir, 'spool');
  return {
    handler,
    store,
    spool,
    key,
    dir,
    async review(body) {
      const json = await handler.handle(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
      return JSON.parse(json) as ReviewAnswer['review'];
    },
    events() {
      const lines = fs
        .readdirSync(segmentsDir)
        .filter((f) => f.endsWith('.ndjson'))
        .sort()
        .flatMap((f) => fs.readFileSync(path.join(segmentsDir, f), 'utf8').split('\n').filter(Boolean));
      if (lines.length === 0) return [];
      const events = lines.map((l) => JSON.parse(l) as unknown);
      for (let i = 0; i < events.length; i += 1000) {
        const v = validateAdmissionEventBatch({ events: events.slice(i, i + 1000) });
        if (!v.ok)
          throw new Error(
            `spooled event ${i + (v.index ?? 0)} breaks the contract: ${v.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
          );
      }
      return events as AdmissionEvent[];
    },
    async close() {
      await spool.close();
      api?.close();
    },
  };
}

/** For one describe block: a harness maker whose every harness is closed after the block. */
export function harnessesClosedAfter(): (o?: HarnessOptions) => HandlerHarness {
  const made: HandlerHarness[] = [];
  after(() => Promise.all(made.map((h) => h.close())));
  return (o) => {
    const h = handlerHarness(o);
    made.push(h);
    return h;
  };
}
