/**
 * `portcullis demo`: the demo fleet, step by step. Each step says on stderr what it did;
 * stdout carries only the one JSON line that ends the set-up.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliIo } from '../command';
import { AGENT_DEFAULT_EXCLUSIONS, startAgent, stopAgents, waitForAgent, type DemoAgent } from './agents';
import { checkApiReady, GraphqlClient } from './api';
import { admitManifests, impersonatedUser, textFor, WEBHOOK_NAME, type AdmitResult } from '../admit';
import { dealFiles, laterChange, loadManifestFiles, type DemoWorkload } from './fleet';
import { uploadHistory } from './history';
import { createAgentTls } from './tls';

/** A path as the user can type it: relative to the working directory when inside it. */
const shown = (p: string) =>
  path.relative(process.cwd(), p).startsWith('..') ? p : path.relative(process.cwd(), p) || '.';

const KUBERNETES_VERSION = '1.33.4';

/** The three clouds of the demo fleet: one cloud scope and one cluster in each. */
const CLOUDS = [
  {
    provider: 'AZURE_SUBSCRIPTION',
    displayName: 'contoso-payments-prod',
    externalId: () => randomUUID(),
    cluster: 'aks-payments-prod',
    distribution: 'AKS',
  },
  {
    provider: 'AWS_ACCOUNT',
    displayName: 'contoso-shop-prod',
    externalId: () => String(100_000_000_000 + (randomBytes(5).readUIntBE(0, 5) % 900_000_000_000)),
    cluster: 'eks-shop-prod',
    distribution: 'EKS',
  },
  {
    provider: 'GCP_PROJECT',
    displayName: 'contoso-platform',
    externalId: () => `contoso-platform-${randomBytes(3).toString('hex')}`,
    cluster: 'gke-platform',
    distribution: 'GKE',
  },
] as const;

/** The policy the tour walks from Audit to Block: rules real manifests break, resource limits among them. */
export const HARDENING_POLICY = {
  name: 'demo-workload-hardening',
  description:
    'Demo: the hardening the platform team wants everywhere; Audit until the audit-to-deny report says Block is safe',
  rules: ['resource-limits', 'read-only-root-filesystem', 'privilege-escalation', 'run-as-non-root'],
} as const;

/** The policy the demo itself switches to Block at the end of its set-up. */
export const PRIVILEGED_POLICY = {
  name: 'demo-no-privileged-pods',
  description: 'Demo: no privileged containers and no host namespaces',
  rules: ['privileged-container', 'host-namespaces'],
} as const;

/** Who restarts workloads today: a platform engineer with kubectl. */
const OPERATOR = impersonatedUser('ada@contoso.example', ['platform-team']);
const RESTARTABLE_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

/** Requests the agent recorded: its answer names the event it spooled. */
const recorded = (results: readonly AdmitResult[]) =>
  results.filter((r) => r.response?.auditAnnotations?.['event-id']).length;

/** The cluster whose agent the tour's admissions go to (WEBHOOK and CA in env.sh). */
const TOUR_CLUSTER = 1;

export interface DemoOptions {
  readonly api: string;
  readonly manifests: string;
  readonly days: number;
  readonly io: CliIo;
  readonly stateRoot: string;
  readonly operator: string;
}

interface Cluster {
  readonly id: string;
  readonly name: string;
  readonly distribution: string;
  readonly cloudScopeId: string;
  readonly provider: string;
  readonly agentToken: string;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const started = Date.now();
  const say = (line: string) =>
    o.io.stderr.write(
      `${process.env['DEMO_TRACE'] ? `[${((Date.now() - started) / 1000).toFixed(1)}] ` : ''}${line}\n`,
    );
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await checkApiReady(o.api);
  const files = loadManifestFiles(o.manifests);
  const fleets = dealFiles(files, CLOUDS.length);
  say(
    `portcullis demo: API ${o.api}; manifests from ${shown(o.manifests)} (${files.length} files, ${fleets.reduce((n, f) => n + f.workloads.length, 0)} workloads)`,
  );

  // 1. the tenant and its owner, as `portcullis tenant create` does it
  const tenantId = randomUUID();
  const ownerId = randomUUID();
  await onboard(o, tenantId, ownerId);
  const token = await mintOwnerToken(o.io.env, tenantId, ownerId);
  const gql = new GraphqlClient(o.api, token);
  say(`tenant ${tenantId} onboarded (owner ${ownerId}); token minted from the development issuer, valid 8 h`);

  // 2. three clouds, a cluster in each
  const clusters: Cluster[] = [];
  for (const c of CLOUDS) {
    const scope = await gql.request<{ createCloudScope: { id: string } }>(
      'createCloudScope',
      'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }',
      { i: { provider: c.provider, externalId: c.externalId(), displayName: c.displayName } },
    );
    const reg = await gql.request<{ registerCluster: { agentToken: string; cluster: { id: string; name: string } } }>(
      'registerCluster',
      'mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { agentToken cluster { id name } } }',
      {
        i: {
          cloudScopeId: scope.createCloudScope.id,
          name: c.cluster,
          distribution: c.distribution,
          kubernetesVersion: KUBERNETES_VERSION,
        },
      },
    );
    clusters.push({
      id: reg.registerCluster.cluster.id,
      name: c.cluster,
      distribution: c.distribution,
      cloudScopeId: scope.createCloudScope.id,
      provider: c.provider,
      agentToken: reg.registerCluster.agentToken,
    });
    say(
      `${c.provider} ${c.displayName}: cluster ${c.cluster} (${c.distribution}) registered, id ${reg.registerCluster.cluster.id}`,
    );
  }

  // 3. the policies, in Audit mode, before the agents start: their first bundle has them
  const createPolicy = async (p: { name: string; description: string; rules: readonly string[] }) =>
    (
      await gql.request<{ createPolicy: { id: string; version: number } }>(
        'createPolicy',
        'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id version } }',
        {
          i: {
            name: p.name,
            description: p.description,
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            rules: p.rules.map((ruleId) => ({ ruleId, enabled: true })),
          },
        },
      )
    ).createPolicy;
  const hardening = await createPolicy(HARDENING_POLICY);
  const privileged = await createPolicy(PRIVILEGED_POLICY);
  say(
    `policies ${HARDENING_POLICY.name} (${hardening.id}) and ${PRIVILEGED_POLICY.name} (${privileged.id}) created in AUDIT mode`,
  );

  // 4. one real agent per cluster
  const jwks = await (await fetch(`${o.api}/.well-known/jwks.json`)).json();
  const runDir = path.join(o.stateRoot, tenantId);
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const envFile = path.join(o.stateRoot, 'env.sh');
  fs.rmSync(envFile, { force: true });
  const agents: DemoAgent[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    await stopAgents(agents);
  };
  try {
    const tls = clusters.map((c) => createAgentTls(c.name));
    // started together; every start is awaited before a failure is thrown, so none is left running
    const starts = await Promise.allSettled(
      clusters.map((c, i) =>
        startAgent({
          dir: path.join(runDir, c.name),
          clusterId: c.id,
          clusterName: c.name,
          apiUrl: o.api,
          agentToken: c.agentToken,
          jwks,
          tls: tls[i]!,
        }),
      ),
    );
    for (const s of starts) if (s.status === 'fulfilled') agents.push(s.value);
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    agents.sort(
      (a, b) => clusters.findIndex((c) => c.id === a.clusterId) - clusters.findIndex((c) => c.id === b.clusterId),
    );
    for (const a of agents) {
      const s = await waitForAgent(a, 'receive its first policy bundle', (st) => st.bundleRevision !== null);
      say(
        `agent of ${a.clusterName} (${elapsed()}): pid ${a.child.pid}, webhook ${a.webhookUrl}, bundle revision ${s.bundleRevision}, files in ${shown(a.dir)}`,
      );
    }

    // 5. the past days, as each agent would have uploaded them
    let events = 0;
    const violators = new Map<string, DemoWorkload[]>();
    const allDays = new Set<string>();
    for (const [i, c] of clusters.entries()) {
      const h = await uploadHistory(
        o.api,
        {
          clusterId: c.id,
          agentToken: c.agentToken,
          bundlePath: agents[i]!.bundlePath,
          jwks,
          workloads: fleets[i]!.workloads,
          excludedNamespaces: AGENT_DEFAULT_EXCLUSIONS,
        },
        o.days,
        0x5eed + i,
      );
      events += h.accepted;
      h.days.forEach((d) => allDays.add(d));
      for (const [policy, ws] of h.violators) violators.set(policy, [...(violators.get(policy) ?? []), ...ws]);
      say(
        `${c.name}: ${h.accepted} past admissions uploaded with its credential (${h.days[0]} .. ${h.days[h.days.length - 1]}; ${elapsed()})`,
      );
    }

    // 6. today: `kubectl rollout restart` of half the workloads, through `admit` and the live agents
    /** `kubectl rollout restart` of one workload, as the operator, through `admit` and agent `a`. */
    const restart = (w: DemoWorkload, a: DemoAgent) => {
      const change = laterChange(w, new Date());
      return admitManifests(change.objects, {
        target: { url: new URL(a.webhookUrl), ca: fs.readFileSync(a.caFile, 'utf8'), timeoutMs: 10_000 },
        operation: change.operation,
        dryRun: false,
        user: OPERATOR,
        maxPods: 2,
        nodeName: 'node-1',
        ...(change.oldObjects ? { oldObjects: change.oldObjects } : {}),
      });
    };
    let today = 0;
    for (const [i, a] of agents.entries()) {
      let n = 0;
      for (const w of fleets[i]!.workloads.filter((_, k) => k % 2 === 0)) n += recorded(await restart(w, a));
      today += n;
      await waitForAgent(a, 'upload its admission events', (st) => st.spoolDepth === 0);
      say(
        `${a.clusterName}: ${n} admissions today through \`portcullis admit\` and its agent, uploaded (${elapsed()})`,
      );
    }
    events += today;

    // 7. Audit -> Block on one policy, and a denial through `admit`
    const revisions = await Promise.all(
      agents.map(async (a) => (await waitForAgent(a, 'answer', () => true)).bundleRevision ?? 0),
    );
    const switched = await gql.request<{ updatePolicy: { version: number; action: string } }>(
      'updatePolicy',
      'mutation($id: ID!, $i: UpdatePolicyInput!) { updatePolicy(id: $id, input: $i) { version action } }',
      { id: privileged.id, i: { action: 'BLOCK', version: privileged.version } },
    );
    say(
      `${PRIVILEGED_POLICY.name} switched to ${switched.updatePolicy.action} (version ${switched.updatePolicy.version})`,
    );
    const culprit = (violators.get(PRIVILEGED_POLICY.name) ?? []).find((w) => RESTARTABLE_KINDS.includes(w.kind));
    if (culprit) {
      const k = fleets.findIndex((f) => f.workloads.includes(culprit));
      const a = agents[k]!;
      const before = revisions[k]!;
      await waitForAgent(
        a,
        `enforce ${PRIVILEGED_POLICY.name} in BLOCK mode (a bundle newer than revision ${before})`,
        (st) => (st.bundleRevision ?? 0) > before,
      );
      const results = await restart(culprit, a);
      events += recorded(results);
      const top = results[0]!;
      say(
        `${a.clusterName}: kubectl rollout restart ${culprit.kind.toLowerCase()}/${culprit.name} -n ${culprit.namespace} (${path.basename(culprit.file)}), through \`portcullis admit\` and its agent:`,
      );
      // the Audit warnings came with every admission before; the denial is the news
      for (const l of textFor(top, undefined, WEBHOOK_NAME, a.webhookUrl).stderr)
        if (!l.startsWith('Warning:')) say(`  ${l.split('\n').join('\n  ')}`);
      if (top.outcome !== 'denied')
        throw new Error(
          `${a.clusterName}: ${culprit.kind}/${culprit.name} was ${top.outcome}, not denied, with ${PRIVILEGED_POLICY.name} in BLOCK mode`,
        );
      await waitForAgent(a, 'upload the denial', (st) => st.spoolDepth === 0);
    } else
      say(
        `no Deployment, StatefulSet or DaemonSet of these manifests breaks ${PRIVILEGED_POLICY.name}: no denial to show`,
      );

    // 8. what the tour needs, and the JSON line
    const tour = agents[TOUR_CLUSTER]!;
    const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    fs.writeFileSync(
      envFile,
      [
        `# portcullis demo ${new Date().toISOString()}: source it (. ${shown(envFile)})`,
        `export PORTCULLIS_API_URL=${sh(o.api)}`,
        `export TENANT=${sh(tenantId)}`,
        `export TOKEN=${sh(token)}`,
        `export POLICY=${sh(hardening.id)}   # ${HARDENING_POLICY.name}, AUDIT`,
        `export WEBHOOK=${sh(tour.webhookUrl)}   # the agent of ${tour.clusterName}`,
        `export CA=${sh(tour.caFile)}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const line = JSON.stringify({
      tenantId,
      token,
      clusters: clusters.map((c) => ({
        id: c.id,
        name: c.name,
        distribution: c.distribution,
        cloudScopeId: c.cloudScopeId,
        provider: c.provider,
      })),
      agents: agents.map((a) => ({ clusterId: a.clusterId, webhookUrl: a.webhookUrl, caFile: a.caFile })),
      events,
    });
    fs.writeFileSync(path.join(o.stateRoot, 'demo.json'), `${line}\n`, { mode: 0o600 });
    say('');
    say(
      `Ready after ${elapsed()}: ${events} admission events over ${allDays.size + 1} days in 3 clusters; the agents run until Ctrl-C.`,
    );
    say(`  token (owner, 8 h):  ${token}`);
    say(`  next:  . ${shown(envFile)}   # PORTCULLIS_API_URL, TOKEN, POLICY, WEBHOOK, CA`);
    say(`         npx portcullis admit --webhook "$WEBHOOK" --ca "$CA" -n shop docs/examples/web.yaml`);
    say('         then the Tour in README.md: the inventory, auditToDenyReport, simulatePolicy, Block');
    o.io.stdout.write(`${line}\n`);

    // 9. until interrupted; an agent that dies ends the demo
    const code = await new Promise<number>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        say(`${signal}: stopping the agents`);
        resolve(0);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      for (const a of agents) {
        void a.exited.then(({ code: c, signal }) => {
          if (stopping) return;
          say(
            `the agent of ${a.clusterName} exited (code ${c}, signal ${signal}); see ${path.join(a.dir, 'agent.log')}`,
          );
          resolve(1);
        });
      }
    });
    await stopAll();
    say('agents stopped');
    return code;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function onboard(o: DemoOptions, tenantId: string, ownerId: string): Promise<void> {
  const { loadConfig } = await import('@portcullis/config');
  const { createPrismaClient } = await import('@portcullis/db');
  const { TenantOnboarding } = await import('@portcullis/tenants');
  const config = loadConfig(o.io.env);
  const prisma = createPrismaClient({ databaseUrl: config.databaseUrl, poolSize: 1 });
  try {
    await new TenantOnboarding(prisma).create({
      tenantId,
      ownerObjectId: ownerId,
      name: `Contoso demo ${new Date().toISOString().slice(0, 16)}Z`,
      operator: o.operator,
    });
  } finally {
    await prisma.$disconnect();
  }
}

/** As `portcullis dev-token` mints it: the development issuer's key, validated by the API like an Entra ID token. */
async function mintOwnerToken(env: NodeJS.ProcessEnv, tenantId: string, ownerId: string): Promise<string> {
  const { defaultStateDir, issuerBaseUrl, issuerFor, loadOrCreateState, mintToken } =
    await import('@portcullis/dev-issuer');
  const { repoRoot } = await import('@portcullis/config');
  const configured = env['DEV_ISSUER_STATE_DIR'];
  const state = loadOrCreateState(configured ? path.resolve(repoRoot(), configured) : defaultStateDir());
  return mintToken(state, issuerFor(issuerBaseUrl(env), tenantId), {
    tenantId,
    oid: ownerId,
    name: 'Ada Owner (demo)',
    audience: env['AUTH_AUDIENCE'] || 'api://portcullis',
    expiresInSeconds: 8 * 3600,
  });
}
