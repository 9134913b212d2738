/**
 * The past days of a demo cluster, as its agent would have recorded and uploaded them:
 * the agent's own code decides each admission (the bundle it persisted, verified again;
 * the engine; its findings, owner resolution and snapshot form; its event lines) at the
 * time the admission happened, and the agent's API client uploads the batches, gzipped,
 * with the cluster's credential to POST /agent/v1/admission-events. The agent process has
 * no clock to turn back, so this is the one place the demo re-enacts it.
 */
import { gzipSync } from 'node:zlib';
import { decisionFor } from '@portcullis/contracts';
import { fromJwks } from '@portcullis/bundle';
import { compileGlob, evaluatePolicies, inspectObject, type ArtifactLookup } from '@portcullis/policy-engine';
import { eventLine, snapshotJson, toFindings } from '../../../agent/src/admission/event';
import { resolveOwner } from '../../../agent/src/admission/owner';
import { parseReview } from '../../../agent/src/admission/review';
import { ApiClient, describeAnswer } from '../../../agent/src/api-client';
import { BundleStore } from '../../../agent/src/bundle/bundle-store';
import { AGENT_VERSION } from '../../../agent/src/version';
import { ArtifactResolver } from '../../../agent/src/vulnerability/artifact-resolver';
import { admitManifests, impersonatedUser, randomNames, type AdmissionResponse, type WebhookAnswer } from '../admit';
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
export async function uploadHistory(apiUrl: string, c: HistoryCluster, days: number, seed: number, now = Date.now()): Promise<HistoryResult> {
  const store = new BundleStore(c.bundlePath, fromJwks(c.jwks), c.clusterId);
  const loaded = store.loadPersisted();
  if (loaded.outcome !== 'applied') throw new Error(`cluster ${c.clusterId}: the agent's persisted bundle ${c.bundlePath} cannot be used (${loaded.outcome === 'rejected' ? loaded.message : 'none yet'})`);
  const bundle = store.current(now)!;
  const api = new ApiClient(new URL(apiUrl), c.agentToken, c.clusterId, `portcullis-agent/${AGENT_VERSION}`);
  const resolver = new ArtifactResolver(api, fromJwks(c.jwks), { cacheTtlMs: DAY_MS, notFoundTtlMs: DAY_MS, failureTtlMs: 5000, requestTimeoutMs: 10_000 });
  const excluded = [...c.excludedNamespaces, ...(bundle.document.agentSettings.excludedNamespaces ?? [])].map((p) => compileGlob(p));
  const reasons = new Map<string, string>();
  for (const p of bundle.compiled) for (const e of p.policy.exemptions) reasons.set(e.id, e.reason);

  const rand = prng(seed);
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const lines: string[] = [];
  const dayKeys = new Set<string>();
  const violators = new Map<string, DemoWorkload[]>();

  /** The agent's AdmissionHandler.review, at the admission's own time, for one review `admit` built. */
  const reEnact = async (review: Record<string, unknown>, at: Date, w: DemoWorkload): Promise<WebhookAnswer> => {
    const parsed = parseReview(JSON.stringify(review));
    if (!parsed.ok) throw new Error(`${w.file}: ${w.kind}/${w.name}: not an admission review the agent reads: ${parsed.message}`);
    const r = parsed.request;
    const namespace = r.namespace;
    if (namespace !== undefined && excluded.some((m) => m(namespace))) return { ok: true, response: { allowed: true } };
    const target = inspectObject(r.object, namespace ?? 'default');
    const images = target.status === 'pod' ? target.containers.flatMap((k) => (k.image ? [k.image] : [])) : [];
    const owner = resolveOwner(r.object, r.kind, r.name);
    const evaluate = r.operation === 'CREATE' || r.operation === 'UPDATE';
    const lookups: ReadonlyMap<string, ArtifactLookup> = evaluate && bundle.hasVulnerabilityPolicies && images.length > 0 ? await resolver.resolve(images, bundle.document.tenantId, 10_000) : new Map();
    const evaluation = evaluate
      ? evaluatePolicies(r.object, bundle.compiled, {
          defaultNamespace: namespace ?? 'default',
          now: at,
          owner,
          scanArtifacts: (image) => lookups.get(image) ?? { status: 'lookup-failed', error: 'no scan-artifact lookup was made for this image' },
        })
      : null;
    const findings = evaluation ? toFindings(evaluation.violations, reasons) : [];
    for (const f of findings) {
      const list = violators.get(f.policyName) ?? [];
      if (!list.includes(w)) list.push(w);
      violators.set(f.policyName, list);
    }
    const decision = decisionFor(findings);
    const json = evaluate ? snapshotJson(r.object, target) : undefined;
    const { eventId, line } = eventLine({ request: r, namespace, owner, images, decision, bundleRevision: bundle.document.revision, findings, clusterId: c.clusterId, occurredAt: at }, json);
    lines.push(line);
    dayKeys.add(at.toISOString().slice(0, 10));
    const response: AdmissionResponse = { allowed: decision !== 'DENIED', auditAnnotations: { decision, 'event-id': eventId } };
    return { ok: true, response };
  };

  for (let back = days - 1; back >= 1; back--) {
    const dayStart = today - back * DAY_MS;
    for (const w of c.workloads) {
      const first = back === days - 1;
      if (!first && rand() > 0.33) continue;
      let at = dayStart + Math.floor((7 + rand() * 11) * 3_600_000);
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
        send: (review) => reEnact(review, new Date(at), w),
      });
    }
  }

  let accepted = 0;
  let duplicates = 0;
  let expired = 0;
  try {
    for (let i = 0; i < lines.length; i += BATCH) {
      const body = gzipSync(Buffer.concat([OPEN, Buffer.from(lines.slice(i, i + BATCH).join(',')), CLOSE]), { level: 3 });
      const res = await api.request({ method: 'POST', path: '/agent/v1/admission-events', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body, timeoutMs: 60_000 });
      if (res.status !== 200) throw new Error(`cluster ${c.clusterId}: the API refused a batch of past admission events: ${describeAnswer(res)}`);
      const answer = JSON.parse(res.body.toString('utf8')) as { accepted: number; duplicates: number; expired: number };
      accepted += answer.accepted;
      duplicates += answer.duplicates;
      expired += answer.expired;
    }
  } finally {
    api.close();
  }
  return { uploaded: lines.length, accepted, duplicates, expired, days: [...dayKeys].sort(), violators };
}
