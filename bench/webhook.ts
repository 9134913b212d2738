// Scenario `webhook`: HTTPS AdmissionReviews built from the real manifests of
// ../shared/fixtures/manifests, sent on loopback to (1) a bare Node HTTPS server that
// answers "allowed", (2) the agent (its real entry point, its own process) enforcing the
// default misconfiguration policy, (3) the agent also gating vulnerabilities, with every
// image's signed artifact already cached. Each target: the most it answers with a fixed
// number of requests in flight, then fixed rising rates with p50/p99 latency.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { generateSigningKey, type ScanArtifactDocument } from '@portcullis/bundle';
import { repoPath, repoRoot } from '@portcullis/config';
import { inspectObject, normalizeImage } from '@portcullis/policy-engine';
import { agentEnv, newAgentToken, spawnAgent, tempDir } from '../apps/agent/test/support/agent-env';
import { TENANT, misconfigurationPolicy, vulnerabilityPolicy } from '../apps/agent/test/support/bundles';
import { ControlPlane } from '../apps/agent/test/support/control-plane';
import { testTls, type TestTls } from '../apps/agent/test/support/pki';
import { reviewOf } from '../apps/agent/test/support/reviews';

const RATES = [250, 500, 1000, 1500, 2000];
const RATE_SECONDS = 3;
/** The rate the goals name gets more samples: a p99 of 3,000 latencies moves with a handful of stalls. */
const GOAL_RATE = 1000;
const GOAL_RATE_SECONDS = 10;
const THROUGHPUT_SECONDS = 5;
/** Alternating without/with vulnerability-gating windows at GOAL_RATE after the full measurements. */
const VULNERABILITY_PAIRS = 3;
const CONCURRENCY = 16;

interface Corpus {
  readonly bodies: Buffer[];
  readonly images: string[];
}

export function corpus(): Corpus {
  const dir = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'manifests');
  if (!fs.existsSync(dir)) throw new Error(`the webhook bench sends the real manifests of ${dir}, which is absent`);
  const bodies: Buffer[] = [];
  const images = new Set<string>();
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const object = doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown> | null;
      if (!object || typeof object !== 'object') continue;
      const target = inspectObject(object, 'bench');
      if (target.status !== 'pod' && target.status !== 'ingress') continue;
      if (target.status === 'pod') for (const c of target.containers) if (c.image) images.add(c.image);
      // every review in an evaluated namespace: none is waved through as excluded
      bodies.push(Buffer.from(JSON.stringify(reviewOf(object, { namespace: 'bench', uid: `bench-${bodies.length}` }))));
    }
  }
  return { bodies, images: [...images] };
}

const percentile = (sorted: readonly number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export class Client {
  private readonly agent: https.Agent;
  errors = 0;
  constructor(
    private readonly port: number,
    private readonly ca: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** One review; resolves with its latency in ms (from the request call to the last byte). */
  send(body: Buffer): Promise<number> {
    const start = process.hrtime.bigint();
    return new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: this.port, path: '/validate', method: 'POST', ca: this.ca, agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        if (res.statusCode !== 200) this.errors++;
        res.on('data', () => undefined);
        res.on('end', () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
      });
      req.on('error', () => {
        this.errors++;
        resolve(Number(process.hrtime.bigint() - start) / 1e6);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

async function closedLoop(client: Client, bodies: readonly Buffer[], seconds: number): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (Date.now() < end) {
      await client.send(bodies[next++ % bodies.length]!);
      done++;
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function fixedRate(client: Client, bodies: readonly Buffer[], rate: number, seconds: number): Promise<{ rate: number; achieved: number; p50Ms: number; p99Ms: number }> {
  const total = rate * seconds;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = Date.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    while (sent < due) pending.push(client.send(bodies[sent++ % bodies.length]!).then((ms) => void latencies.push(ms)));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const elapsed = (Date.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate, achieved: round(total / elapsed, 1), p50Ms: round(percentile(latencies, 50), 3), p99Ms: round(percentile(latencies, 99), 3) };
}

/** CPU seconds (user + system) a process has used, from /proc: contention from other work does not inflate it. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function measure(port: number, pid: number, tls: TestTls, bodies: readonly Buffer[]): Promise<{ reviewsPerSecond: number; reviewsPerCpuSecond: number; rates: Awaited<ReturnType<typeof fixedRate>>[]; errors: number }> {
  const client = new Client(port, tls.caPem);
  for (const b of bodies) await client.send(b); // warm-up: JIT, caches, connections
  await closedLoop(client, bodies, 1);
  client.errors = 0;
  const cpuBefore = cpuSeconds(pid);
  const wallStart = process.hrtime.bigint();
  const reviewsPerSecond = await closedLoop(client, bodies, THROUGHPUT_SECONDS);
  const reviews = reviewsPerSecond * (Number(process.hrtime.bigint() - wallStart) / 1e9);
  const reviewsPerCpuSecond = reviews / Math.max(0.01, cpuSeconds(pid) - cpuBefore);
  const rates = [];
  for (const rate of RATES) rates.push(await fixedRate(client, bodies, rate, rate === GOAL_RATE ? GOAL_RATE_SECONDS : RATE_SECONDS));
  client.close();
  return { reviewsPerSecond: round(reviewsPerSecond, 0), reviewsPerCpuSecond: round(reviewsPerCpuSecond, 0), rates, errors: client.errors };
}

async function bare(tls: TestTls, bodies: readonly Buffer[]) {
  const dir = tempDir('portcullis-bench-');
  fs.writeFileSync(path.join(dir, 'tls.crt'), tls.certPem);
  fs.writeFileSync(path.join(dir, 'tls.key'), tls.keyPem);
  const child: ChildProcess = spawn(process.execPath, [repoPath('dist', 'bench', 'support', 'bare-webhook.js')], { env: { CERT_FILE: path.join(dir, 'tls.crt'), KEY_FILE: path.join(dir, 'tls.key') }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString('utf8')) as { port: number }).port)));
  try {
    return await measure(port, child.pid!, tls, bodies);
  } finally {
    child.kill('SIGKILL');
  }
}

export function artifactFor(image: string): { image: string; resolvedBy: 'DIGEST' | 'TAG'; document: ScanArtifactDocument } | null {
  const ref = normalizeImage(image);
  if (!ref) return null;
  const digest = ref.digest && /^sha256:[0-9a-f]{64}$/.test(ref.digest) ? ref.digest : undefined;
  const document: ScanArtifactDocument = {
    schemaVersion: 1,
    tenantId: TENANT,
    repository: `${ref.registry}/${ref.repository}`,
    tags: ref.tag ? [ref.tag] : [],
    ...(digest ? { repoDigest: digest } : {}),
    tagBound: digest === undefined,
    scanner: { name: 'trivy', version: '0.58.1' },
    scannedAt: new Date(Date.now() - 86_400_000).toISOString(),
    findings: [
      { id: 'CVE-2024-6119', severity: 'HIGH', cvss: 7.5, packageName: 'openssl', installedVersion: '3.0.13-1', fixedVersion: '3.0.14-1' },
      { id: 'CVE-2024-2511', severity: 'MEDIUM', packageName: 'openssl', installedVersion: '3.0.13-1', fixedVersion: '3.0.14-1' },
    ],
  };
  if (document.tagBound && document.tags.length === 0) return null;
  return { image, resolvedBy: digest ? 'DIGEST' : 'TAG', document };
}

interface AgentTarget {
  readonly port: number;
  readonly pid: number;
  readonly api: ControlPlane;
  stop(): Promise<void>;
}

export async function startAgent(tls: TestTls, images: readonly string[], withVulnerability: boolean): Promise<AgentTarget> {
  const token = newAgentToken();
  const api = await new ControlPlane(tls, token, generateSigningKey()).start();
  api.countEventsOnly = true;
  api.publish(withVulnerability ? [misconfigurationPolicy('BLOCK'), vulnerabilityPolicy('BLOCK')] : [misconfigurationPolicy('BLOCK')]);
  if (withVulnerability) for (const image of images) {
    const a = artifactFor(image);
    if (a) api.addArtifact(image, a);
  }
  const env = agentEnv({ dir: tempDir('portcullis-bench-'), apiUrl: api.url, token, jwks: api.jwks, tls, extra: { LOG_LEVEL: 'warn', PORTCULLIS_EVENT_BATCH_SIZE: '1000', PORTCULLIS_EVENT_FLUSH_INTERVAL_MS: '1000', PORTCULLIS_STATUS_INTERVAL_SECONDS: '60', PORTCULLIS_BUNDLE_WAIT_SECONDS: '30' } });
  const proc = await spawnAgent({ ...env, LOG_LEVEL: 'info' });
  for (let i = 0; i < 200 && !proc.logs.some((l) => l['msg'] === 'policy bundle applied'); i++) await new Promise((r) => setTimeout(r, 25));
  return {
    port: proc.webhookPort,
    pid: proc.child.pid!,
    api,
    async stop() {
      proc.child.kill('SIGTERM');
      await proc.exited;
      await api.stop();
    },
  };
}

/**
 * The p99 difference vulnerability gating makes, from alternating windows at the goal rate on
 * the two running agents (without-with, with-without, without-with), so each pair sees the
 * same machine and neither configuration always goes second. A single pair of p99s moved by
 * tens of ms between runs on the 2-core VM.
 */
async function alternating(plain: AgentTarget, gated: AgentTarget, tls: TestTls, bodies: readonly Buffer[]) {
  const a = new Client(plain.port, tls.caPem);
  const b = new Client(gated.port, tls.caPem);
  const pairs: Array<{ withoutP99Ms: number; withP99Ms: number; deltaMs: number }> = [];
  for (let i = 0; i < VULNERABILITY_PAIRS; i++) {
    // the order alternates (without first, then with first, ...): the second window of a pair
    // must not carry a systematic advantage or penalty into the difference
    const withoutFirst = i % 2 === 0;
    const first = await fixedRate(withoutFirst ? a : b, bodies, GOAL_RATE, GOAL_RATE_SECONDS);
    const second = await fixedRate(withoutFirst ? b : a, bodies, GOAL_RATE, GOAL_RATE_SECONDS);
    const [without, withGating] = withoutFirst ? [first, second] : [second, first];
    pairs.push({ withoutP99Ms: without.p99Ms, withP99Ms: withGating.p99Ms, deltaMs: round(withGating.p99Ms - without.p99Ms, 3) });
  }
  a.close();
  b.close();
  return { pairs, medianDeltaMs: median(pairs.map((p) => p.deltaMs)), errors: a.errors + b.errors };
}

export async function run(): Promise<Record<string, unknown>> {
  const { bodies, images } = corpus();
  const tls = testTls();
  const bareResult = await bare(tls, bodies);
  const plain = await startAgent(tls, images, false);
  const gated = await startAgent(tls, images, true);
  try {
    const agentResult = await measure(plain.port, plain.pid, tls, bodies);
    const vulnResult = await measure(gated.port, gated.pid, tls, bodies);
    const lookups = gated.api.lookupRequests;
    const pairs = await alternating(plain, gated, tls, bodies);
    return summary(bareResult, agentResult, vulnResult, pairs, { lookups, lookupsDuringPairs: gated.api.lookupRequests - lookups, uploadedBytes: plain.api.countedBytes + gated.api.countedBytes, reviews: bodies.length, distinctImages: images.length });
  } finally {
    await plain.stop();
    await gated.stop();
  }
}

type Measured = Awaited<ReturnType<typeof measure>>;

function summary(bareResult: Measured, agentResult: Measured, vulnResult: Measured, pairs: Awaited<ReturnType<typeof alternating>>, extra: { lookups: number; lookupsDuringPairs: number; uploadedBytes: number; reviews: number; distinctImages: number }): Record<string, unknown> {
  const at = (r: { rates: Array<{ rate: number; p50Ms: number; p99Ms: number }> }, rate: number) => r.rates.find((x) => x.rate === rate)!;
  return {
    reviewsPerSecond: agentResult.reviewsPerSecond,
    bareReviewsPerSecond: bareResult.reviewsPerSecond,
    throughputRatio: round(agentResult.reviewsPerSecond / bareResult.reviewsPerSecond, 3),
    p99MsAt1000: at(agentResult, 1000).p99Ms,
    p50MsAt1000: at(agentResult, 1000).p50Ms,
    bareP99MsAt1000: at(bareResult, 1000).p99Ms,
    bareP50MsAt1000: at(bareResult, 1000).p50Ms,
    reviewsPerCpuSecond: agentResult.reviewsPerCpuSecond,
    bareReviewsPerCpuSecond: bareResult.reviewsPerCpuSecond,
    cpuThroughputRatio: round(agentResult.reviewsPerCpuSecond / bareResult.reviewsPerCpuSecond, 3),
    reviewsPerSecondWithVulnerability: vulnResult.reviewsPerSecond,
    reviewsPerCpuSecondWithVulnerability: vulnResult.reviewsPerCpuSecond,
    p99MsAt1000WithVulnerability: at(vulnResult, 1000).p99Ms,
    p50MsAt1000WithVulnerability: at(vulnResult, 1000).p50Ms,
    vulnerabilityP99DeltaMsAt1000: round(at(vulnResult, 1000).p99Ms - at(agentResult, 1000).p99Ms, 3),
    vulnerabilityP99DeltaMsMedianOfPairs: pairs.medianDeltaMs,
    // every 10 s window at the goal rate each configuration had: one window's p99 is noise-prone here
    p99MsAt1000MedianOfWindows: median([at(agentResult, 1000).p99Ms, ...pairs.pairs.map((p) => p.withoutP99Ms)]),
    p99MsAt1000MedianOfWindowsWithVulnerability: median([at(vulnResult, 1000).p99Ms, ...pairs.pairs.map((p) => p.withP99Ms)]),
    vulnerabilityPairsAt1000: pairs.pairs,
    rates: RATES.map((rate) => ({ rate, bare: at(bareResult, rate), agent: at(agentResult, rate), agentWithVulnerability: at(vulnResult, rate) })),
    reviews: extra.reviews,
    distinctImages: extra.distinctImages,
    concurrency: CONCURRENCY,
    errors: { bare: bareResult.errors, agent: agentResult.errors, agentWithVulnerability: vulnResult.errors, alternatingPairs: pairs.errors },
    lookupRequestsWithVulnerability: extra.lookups,
    lookupRequestsDuringAlternatingPairs: extra.lookupsDuringPairs,
    eventUploadGzipBytes: extra.uploadedBytes,
    cpus: os.cpus().length,
    loadAverage1m: round(os.loadavg()[0]!, 2),
    note: 'load generator, agent and bare server share this machine; rates are open-loop, latency from request call to last byte; reviewsPerCpuSecond divides the closed-loop reviews by the CPU time the server process used',
  };
}
