/**
 * The past days of a demo cluster, as its agent would have recorded and uploaded them:
 * each admission is decided by the agent's own decision (decideAdmission of
 * @portcullis/admission, with the bundle the agent persisted, verified again) at the time
 * the admission happened, and the agent's API client uploads the event lines, gzipped,
 * with the cluster's credential to POST /agent/v1/admission-events. The agent process has
 * no clock to turn back, so this is the one place the demo re-enacts it.
 */
import * as fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  ApiClient,
  ArtifactResolver,
  decideAdmission,
  describeAnswer,
  parseReview,
  toEnforceable,
  type AdmissionContext,
  type EnforceableBundle,
} from '@portcullis/admission';
import { fromJwks, verifyBundle, type PublicKeySet } from '@portcullis/bundle';
import { compileGlob } from '@portcullis/policy-engine';
import { admitManifests, impersonatedUser, randomNames, type WebhookAnswer } from '../admit';
import { laterChange, prng, type DemoWorkload } from './fleet';

export interface HistoryCluster {
  readonly clusterId: string;
  readonly agentToken: string;
  readonly bundlePath: string;
  readonly jwks: unknown;
  readonly workloads: readonly DemoWorkload[];
  /** The agent's own exclusions (its defaults: its namespace and kube-system). */
  readonly excludedNamespaces: readonly string[];
}

export interface HistoryResult {
  readonly uploaded: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly expired: number;
  /** UTC days (YYYY-MM-DD) with at least one event. */
  readonly days: readonly string[];
  /** Workloads with findings, by policy name. */
  readonly violators: ReadonlyMap<string, readonly DemoWorkload[]>;
}

const DAY_MS = 86_400_000;
const BATCH = 200;
const OPEN = Buffer.from('{"events":[');
/** Who deploys the demo's applications: a GitOps controller, as in most fleets. */
const DEPLOYER = impersonatedUser('system:serviceaccount:argocd:argocd-application-controller', []);
const CLOSE = Buffer.from(']}');

/**
 * Each workload is installed on the first day of the window and rolled out again on about
 * a third of the days after, at a working hour; yesterday is the last day (today's
 * admissions go through the live agents).
 */
export async function uploadHistory(
  apiUrl: string,
  c: HistoryCluster,
  days: number,
  seed: number,
  now = Date.now(),
): Promise<HistoryResult> {
  const trustedKeys = fromJwks(c.jwks);
  const bundle = persistedBundle(c, trustedKeys, now);
  const api = new ApiClient(new URL(apiUrl), c.agentToken, c.clusterId, 'portcullis-demo/history');
  // closed however the re-enactment or the upload ends: its keep-alive sockets would hold the process
  try {
    const resolver = new ArtifactResolver(api, trustedKeys, {
      cacheTtlMs: DAY_MS,
      notFoundTtlMs: DAY_MS,
      failureTtlMs: 5000,
      requestTimeoutMs: 10_000,
    });

    const rand = prng(seed);
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const lines: string[] = [];
    const dayKeys = new Set<string>();
    const violators = new Map<string, DemoWorkload[]>();
    let at = 0;
    const context: AdmissionContext = {
      clusterId: c.clusterId,
      excluded: c.excludedNamespaces.map((p) => compileGlob(p)),
      noBundleAction: 'allow',
      lookupTimeoutMs: 10_000,
      // the bundle the agent holds today decides the past days: the demo's history is of today's policies
      bundles: { current: () => bundle, revision: bundle.document.revision, heldExpired: false },
      // no webhook deadline to keep in the past: every lookup gets the whole budget, whatever the bundle says
      artifacts: {
        cached: (images) => resolver.cached(images),
        resolve: (images, tenantId) => resolver.resolve(images, tenantId, 10_000),
      },
      record: (line) => {
        lines.push(line);
        dayKeys.add(new Date(at).toISOString().slice(0, 10));
        return true;
      },
    };

    /** One review `admit` built, decided as the agent's webhook would have at the admission's own time. */
    const reEnact = async (review: Record<string, unknown>, w: DemoWorkload): Promise<WebhookAnswer> => {
      const parsed = parseReview(JSON.stringify(review));
      if (!parsed.ok)
        throw new Error(`${w.file}: ${w.kind}/${w.name}: not an admission review the agent reads: ${parsed.message}`);
      const { response, findings } = await decideAdmission(parsed.request, new Date(at), context);
      for (const f of findings) {
        const list = violators.get(f.policyName) ?? [];
        if (!list.includes(w)) list.push(w);
        violators.set(f.policyName, list);
      }
      return { ok: true, response };
    };

    for (let back = days - 1; back >= 1; back--) {
      const dayStart = today - back * DAY_MS;
      for (const w of c.workloads) {
        const first = back === days - 1;
        if (!first && rand() > 0.33) continue;
        at = dayStart + Math.floor((7 + rand() * 11) * 3_600_000);
        const change = first ? { operation: 'CREATE' as const, objects: [w.manifest] } : laterChange(w, new Date(at));
        // each request a moment after the one before, as controllers follow one another
        const clock = () => new Date((at += 700 + Math.floor(rand() * 2000)));
        await admitManifests(change.objects, {
          // never called: `send` hands each review to the re-enactment instead of a webhook
          target: { url: new URL('https://history.invalid/validate'), timeoutMs: 10_000 },
          operation: change.operation,
          dryRun: false,
          user: DEPLOYER,
          maxPods: 3,
          nodeName: `${w.namespace.slice(0, 20)}-node-${1 + Math.floor(rand() * 3)}`,
          ...(change.oldObjects ? { oldObjects: change.oldObjects } : {}),
          names: randomNames,
          now: clock,
          send: (review) => reEnact(review, w),
        });
      }
    }

    let accepted = 0;
    let duplicates = 0;
    let expired = 0;
    for (let i = 0; i < lines.length; i += BATCH) {
      const body = gzipSync(Buffer.concat([OPEN, Buffer.from(lines.slice(i, i + BATCH).join(',')), CLOSE]), {
        level: 3,
      });
      const res = await api.request({
        method: 'POST',
        path: '/agent/v1/admission-events',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
        timeoutMs: 60_000,
      });
      if (res.status !== 200)
        throw new Error(
          `cluster ${c.clusterId}: the API refused a batch of past admission events: ${describeAnswer(res)}`,
        );
      const answer = JSON.parse(res.body.toString('utf8')) as { accepted: number; duplicates: number; expired: number };
      accepted += answer.accepted;
      duplicates += answer.duplicates;
      expired += answer.expired;
    }
    return { uploaded: lines.length, accepted, duplicates, expired, days: [...dayKeys].sort(), violators };
  } finally {
    api.close();
  }
}

/** The bundle the cluster's agent persisted, verified as the agent verifies it when it loads it. */
function persistedBundle(c: HistoryCluster, trustedKeys: PublicKeySet, now: number): EnforceableBundle {
  const where = `cluster ${c.clusterId}: the agent's persisted bundle ${c.bundlePath}`;
  let envelope: unknown;
  try {
    envelope = JSON.parse(fs.readFileSync(c.bundlePath, 'utf8'));
  } catch (err) {
    throw new Error(`${where} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const v = verifyBundle(envelope, { trustedKeys, clusterId: c.clusterId, now: new Date(now) });
  if (!v.ok) throw new Error(`${where} cannot be used: ${v.message}`);
  try {
    return toEnforceable(v.bundle);
  } catch (err) {
    throw new Error(`${where} cannot be enforced: ${(err as Error).message}`);
  }
}
