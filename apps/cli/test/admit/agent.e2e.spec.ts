import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { SHARED, SHARED_MISSING } from '@portcullis/testing';
import { readManifests } from '../../src/admit';
import { LiveAgent, deployment, portcullis, workspace } from './support';

interface JsonResult {
  index: number;
  parent: number | null;
  depth: number;
  operation: string;
  dryRun: boolean;
  kind: string;
  namespace: string | null;
  name: string;
  user: string;
  controller?: string;
  sent: boolean;
  outcome: 'allowed' | 'denied' | 'error';
  warnings: string[];
  status?: { code: number; reason: string; message: string };
  auditAnnotations?: Record<string, string>;
}

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata: { name: report, namespace: shop }
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          automountServiceAccountToken: false
          restartPolicy: OnFailure
          containers:
            - name: report
              image: ghcr.io/acme/report:2.1
              resources: { limits: { cpu: 100m, memory: 64Mi } }
`;
const JOB = `apiVersion: batch/v1
kind: Job
metadata: { name: migrate, namespace: shop }
spec:
  parallelism: 2
  completions: 4
  template:
    spec:
      automountServiceAccountToken: false
      restartPolicy: Never
      containers:
        - name: migrate
          image: ghcr.io/acme/migrate:7
          resources: { limits: { cpu: 100m, memory: 64Mi } }
`;
const STATEFULSET = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, namespace: shop }
spec:
  serviceName: db
  replicas: 5
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      automountServiceAccountToken: false
      containers:
        - name: db
          image: ghcr.io/acme/db:16
          resources: { limits: { cpu: 500m, memory: 512Mi } }
          volumeMounts: [{ name: data, mountPath: /var/lib/db }]
  volumeClaimTemplates:
    - metadata: { name: data }
      spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
`;
const DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: node-agent, namespace: shop }
spec:
  selector: { matchLabels: { app: node-agent } }
  template:
    metadata: { labels: { app: node-agent } }
    spec:
      automountServiceAccountToken: false
      containers:
        - name: agent
          image: ghcr.io/acme/node-agent:3
          resources: { limits: { cpu: 50m, memory: 32Mi } }
`;

describe('portcullis admit against a real agent process', () => {
  const agent = new LiveAgent();
  let cwd: string;
  let base: string[];

  before(async () => {
    await agent.start();
    cwd = workspace({
      'web.yaml': deployment('web', { replicas: 3 }),
      'web-v2.yaml': deployment('web', { replicas: 3, image: 'ghcr.io/acme/app:1.1.0' }),
      'priv.yaml': deployment('priv', {
        container:
          '          resources: { limits: { cpu: 200m, memory: 128Mi } }\n          securityContext: { privileged: true }',
      }),
      'tokened.yaml': deployment('tokened', { podSpec: '      serviceAccountName: default' }),
      'nolimits.yaml': deployment('nolimits', { container: '          ports: [{ containerPort: 8080 }]' }),
      'cronjob.yaml': CRONJOB,
      'job.yaml': JOB,
      'statefulset.yaml': STATEFULSET,
      'daemonset.yaml': DAEMONSET,
      'broken/a.yaml': deployment('fine'),
      'broken/b.yaml': `${deployment('fine2')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { namespace: shop }\n`,
    });
    base = ['admit', '--webhook', agent.webhookUrl, '--ca', agent.caFile];
  });
  after(() => agent.stop());

  const json = async (args: string[], stdin?: string) => {
    const r = await portcullis([...base, '-o', 'json', ...args], { cwd, ...(stdin !== undefined ? { stdin } : {}) });
    return { ...r, results: r.stdout ? (JSON.parse(r.stdout) as { results: JsonResult[] }).results : [] };
  };
  const eventIds = (results: JsonResult[]) =>
    results
      .filter((r) => r.sent)
      .map((r) => r.auditAnnotations?.['event-id'] ?? assert.fail(`${r.kind} ${r.name}: no event id`));

  it('Deployment -> ReplicaSet -> Pods: each request made as its controller, recorded by the agent with its owner', async () => {
    const r = await json(['--max-pods', '2', 'web.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.results.map((x) => [x.depth, x.kind, x.user, x.outcome]),
      [
        [0, 'Deployment', 'kubernetes-admin', 'allowed'],
        [1, 'ReplicaSet', 'system:serviceaccount:kube-system:deployment-controller', 'allowed'],
        [2, 'Pod', 'system:serviceaccount:kube-system:replicaset-controller', 'allowed'],
        [2, 'Pod', 'system:serviceaccount:kube-system:replicaset-controller', 'allowed'],
      ],
    );
    const [, rs, pod1, pod2] = r.results;
    assert.match(rs!.name, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.match(pod1!.name, new RegExp(`^${rs!.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    assert.notEqual(pod1!.name, pod2!.name);
    const events = await agent.events(eventIds(r.results));
    assert.deepEqual(
      events.map((e) => [
        e.operation,
        e.kind,
        e.name,
        e.owner.kind,
        e.owner.name,
        e.requestingUser.username,
        e.decision,
      ]),
      [
        ['CREATE', 'Deployment', 'web', 'Deployment', 'web', 'kubernetes-admin', 'ALLOWED'],
        [
          'CREATE',
          'ReplicaSet',
          rs!.name,
          'Deployment',
          'web',
          'system:serviceaccount:kube-system:deployment-controller',
          'ALLOWED',
        ],
        [
          'CREATE',
          'Pod',
          pod1!.name,
          'Deployment',
          'web',
          'system:serviceaccount:kube-system:replicaset-controller',
          'ALLOWED',
        ],
        [
          'CREATE',
          'Pod',
          pod2!.name,
          'Deployment',
          'web',
          'system:serviceaccount:kube-system:replicaset-controller',
          'ALLOWED',
        ],
      ],
    );
    assert.deepEqual(events[2]!.requestingUser.groups, [
      'system:serviceaccounts',
      'system:serviceaccounts:kube-system',
      'system:authenticated',
    ]);
  });

  it('prints what kubectl prints, and the chain indented under it', async () => {
    const r = await portcullis([...base, 'web.yaml'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'deployment.apps/web created');
    assert.match(lines[1]!, /^ {2}replicaset\.apps\/web-\w+ created \(deployment-controller\)$/);
    assert.match(lines[2]!, /^ {4}pod\/web-\w+-\w{5} created \(replicaset-controller\)$/);
    assert.equal(lines.length, 3, 'one pod by default');
    assert.equal(r.stderr, '');
  });

  it("a Pod the agent denies while its Deployment is admitted: the controller's FailedCreate is shown and the exit code is 1", async () => {
    // the ServiceAccount plugin injects a projected token volume into the Pod; the template had no volume
    const r = await portcullis([...base, 'tokened.yaml'], { cwd });
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'deployment.apps/tokened created');
    assert.match(lines[1]!, /^ {2}replicaset\.apps\/tokened-\w+ created/);
    assert.match(
      lines[2]!,
      /^ {4}Warning {2}FailedCreate {2}replicaset\.apps\/tokened-\w+ {2}\(replicaset-controller\) {2}Error creating: admission webhook "validate\.portcullis\.dev" denied the request: portcullis denied Pod shop\/tokened-\w+-\w{5}: 1 violation of Block-mode policies$/,
    );
    assert.match(r.stdout, /rule volume-types: volume "kube-api-access-\w{5}" is of type projected/);
  });

  it('a denial prints as kubectl does, on stderr, names the file, and nothing further is created', async () => {
    const r = await portcullis([...base, 'priv.yaml'], { cwd });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^Error from server \(Forbidden\): error when creating "priv\.yaml": admission webhook "validate\.portcullis\.dev" denied the request: portcullis denied Deployment shop\/priv: 1 violation of Block-mode policies\n- policy "shop-hardening", rule privileged-container, container "app": /,
    );
    const j = await json(['priv.yaml']);
    assert.equal(j.results.length, 1, 'no ReplicaSet for a denied Deployment');
    assert.equal(j.results[0]!.status!.code, 403);
    await agent.events(eventIds(j.results));
    assert.deepEqual(
      agent.eventsWhere((e) => e.owner.name === 'priv').map((e) => e.kind),
      ['Deployment', 'Deployment'],
    );
  });

  it('Audit-mode violations come back as warnings, printed before the result as kubectl does', async () => {
    const r = await portcullis([...base, 'nolimits.yaml'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^Warning: \[audit\] policy "Default K8s misconfiguration rule", rule resource-limits, container "app": /,
    );
    assert.match(
      r.stdout,
      /^deployment\.apps\/nolimits created\n {2}Warning: \[audit\] policy "Default K8s misconfiguration rule", rule resource-limits/,
    );
  });

  it('CronJob -> Job (<name>-<scheduled minutes>) -> Pod, as the cronjob and job controllers', async () => {
    const r = await json(['cronjob.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.results.map((x) => [x.kind, x.controller ?? null]),
      [
        ['CronJob', null],
        ['Job', 'cronjob-controller'],
        ['Pod', 'job-controller'],
      ],
    );
    assert.match(r.results[1]!.name, /^report-\d{8}$/);
    assert.match(r.results[2]!.name, new RegExp(`^${r.results[1]!.name}-\\w{5}$`));
    const events = await agent.events(eventIds(r.results));
    assert.deepEqual(
      events.map((e) => `${e.owner.kind}/${e.owner.name}`),
      ['CronJob/report', 'CronJob/report', 'CronJob/report'],
    );
  });

  it('Job -> min(parallelism, --max-pods) Pods', async () => {
    const r = await json(['--max-pods', '5', 'job.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.results.map((x) => x.kind),
      ['Job', 'Pod', 'Pod'],
    );
    await agent.events(eventIds(r.results));
  });

  it('StatefulSet -> Pods <name>-0..n-1; DaemonSet -> one Pod', async () => {
    const s = await json(['--max-pods', '3', 'statefulset.yaml']);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(
      s.results.map((x) => `${x.kind}/${x.name}/${x.controller ?? ''}`),
      [
        'StatefulSet/db/',
        'Pod/db-0/statefulset-controller',
        'Pod/db-1/statefulset-controller',
        'Pod/db-2/statefulset-controller',
      ],
    );
    const d = await json(['--max-pods', '3', '--node-name', 'aks-pool1-0', 'daemonset.yaml']);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(
      d.results.map((x) => `${x.kind}/${x.controller ?? ''}`),
      ['DaemonSet/', 'Pod/daemon-set-controller'],
    );
    const events = await agent.events([...eventIds(s.results), ...eventIds(d.results)]);
    assert.deepEqual(
      events.map((e) => `${e.owner.kind}/${e.owner.name}`),
      [
        'StatefulSet/db',
        'StatefulSet/db',
        'StatefulSet/db',
        'StatefulSet/db',
        'DaemonSet/node-agent',
        'DaemonSet/node-agent',
      ],
    );
  });

  it('UPDATE with --old: "configured", and a changed pod template rolls out a new ReplicaSet and its pods', async () => {
    const r = await json(['--operation', 'UPDATE', '--old', 'web.yaml', 'web-v2.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.results.map((x) => [x.operation, x.kind]),
      [
        ['UPDATE', 'Deployment'],
        ['CREATE', 'ReplicaSet'],
        ['CREATE', 'Pod'],
      ],
    );
    const events = await agent.events(eventIds(r.results));
    assert.equal(events[0]!.operation, 'UPDATE');
    assert.deepEqual(events[0]!.images, ['ghcr.io/acme/app:1.1.0']);
    const text = await portcullis([...base, '--operation', 'update', '--old', 'web.yaml', 'web-v2.yaml'], { cwd });
    assert.match(text.stdout, /^deployment\.apps\/web configured\n/);
    // the same manifest re-applied: no rollout
    const same = await json(['--operation', 'UPDATE', 'web.yaml']);
    assert.deepEqual(
      same.results.map((x) => x.kind),
      ['Deployment'],
    );
  });

  it('DELETE: the object as oldObject, printed as kubectl delete does, recorded as DELETE', async () => {
    const r = await json(['--operation', 'DELETE', 'web.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.results.map((x) => [x.operation, x.kind, x.outcome]),
      [['DELETE', 'Deployment', 'allowed']],
    );
    const [event] = await agent.events(eventIds(r.results));
    assert.equal(event!.operation, 'DELETE');
    const text = await portcullis([...base, '--operation', 'DELETE', 'web.yaml'], { cwd });
    assert.equal(text.stdout, 'deployment.apps "web" deleted\n');
  });

  it('--dry-run: dryRun requests, "(server dry run)", recorded as dry runs, and no controller acts on them', async () => {
    const r = await json(['--dry-run', 'web.yaml', 'priv.yaml']);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.results.map((x) => [x.kind, x.name, x.dryRun, x.outcome]),
      [
        ['Deployment', 'web', true, 'allowed'],
        ['Deployment', 'priv', true, 'denied'],
      ],
    );
    assert.equal(r.results[0]!.auditAnnotations?.['dry-run'], 'true');
    const events = await agent.events(eventIds(r.results));
    assert.deepEqual(
      events.map((e) => e.dryRun),
      [true, true],
    );
    const text = await portcullis([...base, '--dry-run=server', 'web.yaml'], { cwd });
    assert.equal(text.stdout, 'deployment.apps/web created (server dry run)\n');
  });

  it('--as / --as-group: the requesting user kube-apiserver would see', async () => {
    const r = await json(['--as', 'alice@example.com', '--as-group', 'shop-devs', '--max-pods', '0', 'web.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const [event] = await agent.events(eventIds(r.results).slice(0, 1));
    assert.deepEqual(event!.requestingUser, {
      username: 'alice@example.com',
      groups: ['shop-devs', 'system:authenticated'],
    });
  });

  it('reads stdin ("-"), and names it STDIN in errors as kubectl does', async () => {
    const r = await portcullis([...base, '-'], {
      cwd,
      stdin: deployment('priv2', { container: '          securityContext: { privileged: true }' }),
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^(Warning: \[audit\] [^\n]+\n)+Error from server \(Forbidden\): error when creating "STDIN": admission webhook "validate\.portcullis\.dev" denied the request: portcullis denied Deployment shop\/priv2/,
    );
  });

  it('bad input: exit 2 naming file, document (from 1) and line, and nothing is sent', async () => {
    const before = await agent.reviewsAnswered();
    const r = await portcullis([...base, 'broken'], { cwd });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'portcullis admit: broken/b.yaml: document 2 (line 18): ConfigMap has neither metadata.name nor metadata.generateName\n',
    );
    const missing = await portcullis([...base, 'nope.yaml'], { cwd });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml: cannot read: no such file or directory/);
    const empty = await portcullis([...base, '-'], { cwd, stdin: '# nothing\n---\n' });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no Kubernetes object found in the inputs/);
    assert.equal(await agent.reviewsAnswered(), before);
  });

  it('a webhook that cannot be called (untrusted certificate, nothing listening) is exit 3, as kube-apiserver reports it', async () => {
    const untrusted = await portcullis(['admit', '--webhook', agent.webhookUrl, 'web.yaml'], { cwd });
    assert.equal(untrusted.code, 3);
    assert.match(
      untrusted.stderr,
      /^Error from server \(InternalError\): error when creating "web\.yaml": Internal error occurred: failed calling webhook "validate\.portcullis\.dev": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/validate": /,
    );
    const wrongName = await portcullis(
      [...base, '--tls-server-name', 'portcullis-agent.portcullis-system.svc', 'web.yaml'],
      { cwd },
    );
    assert.equal(wrongName.code, 3, 'the certificate is for localhost, not the service name');
    const named = await portcullis([...base, '--tls-server-name', 'localhost', 'web.yaml'], { cwd });
    assert.equal(named.code, 0, `the certificate names localhost: ${named.stderr}`);
    const closed = await portcullis(
      ['admit', '--webhook', 'https://127.0.0.1:9/validate', '--ca', agent.caFile, 'web.yaml'],
      { cwd },
    );
    assert.equal(closed.code, 3);
    assert.match(closed.stderr, /ECONNREFUSED/);
  });

  it('a webhook that does not answer within --timeout is exit 3 with kube-apiserver\'s "context deadline exceeded"', async () => {
    const silent = https.createServer({ cert: agent.tls.certPem, key: agent.tls.keyPem }, () => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const r = await portcullis(
        [
          'admit',
          '--webhook',
          `https://127.0.0.1:${port}/validate`,
          '--ca',
          agent.caFile,
          '--timeout',
          '300ms',
          'web.yaml',
        ],
        { cwd },
      );
      assert.equal(r.code, 3);
      assert.match(
        r.stderr,
        /failed calling webhook "validate\.portcullis\.dev": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/validate": context deadline exceeded\n$/,
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it(
    'the real manifests of ../shared/fixtures/manifests: every object answered, every workload followed down to its pods',
    { skip: SHARED_MISSING },
    async () => {
      const dir = path.join(SHARED, 'manifests');
      const objects = await readManifests([dir], { cwd, stdin: Readable.from([]) });
      const r = await json([dir]);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      const top = r.results.filter((x) => x.depth === 0);
      assert.equal(top.length, objects.length);
      assert.deepEqual(
        r.results.filter((x) => x.outcome === 'error'),
        [],
      );
      const workloads = top.filter(
        (x) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(x.kind) && x.outcome === 'allowed',
      );
      assert.ok(workloads.length >= 10, `${workloads.length} workloads`);
      for (const w of workloads) {
        let pods = 0;
        const below = (i: number): void => {
          for (const c of r.results.filter((x) => x.parent === i)) {
            if (c.kind === 'Pod') pods++;
            else if (c.outcome === 'allowed') below(c.index);
          }
        };
        below(w.index);
        assert.ok(pods >= 1, `${w.kind} ${w.name}: a pod was sent`);
      }
      assert.ok(r.results.some((x) => x.kind === 'Pod' && x.depth === 2));
    },
  );

  it('runs as a process through bin/portcullis.js, reading stdin', () => {
    const res = spawnSync(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), ...base, '-'], {
      cwd,
      input: deployment('piped'),
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^deployment\.apps\/piped created\n/);
  });
});
