import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import { repoPath } from '@portcullis/config';
import { generateSigningKey, toJwks } from '@portcullis/bundle';
import { CLUSTER, newAgentToken, tempDir } from '@portcullis/testing';
import { HelmTemplateError, helm, helmLint, helmTemplate, helmUnavailableReason } from './support/helm';

const CHART = repoPath('deploy', 'helm', 'portcullis-agent');
const RELEASE = { name: 'portcullis-agent', namespace: 'portcullis-system' };
const required = {
  api: { url: 'https://portcullis.example.com' },
  clusterId: CLUSTER,
  credential: { token: newAgentToken() },
  trustedKeys: { jwks: JSON.stringify(toJwks([generateSigningKey()])) },
};

type Model = new (data: Record<string, unknown>) => { validate(): void };
// kubernetes-models ships Kubernetes' (and cert-manager's) OpenAPI schemas as validators; it is ESM-only, loaded as such
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<Record<string, unknown>>;
const MODULES: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'admissionregistration.k8s.io/v1': 'kubernetes-models/admissionregistration.k8s.io/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'cert-manager.io/v1': '@kubernetes-models/cert-manager/cert-manager.io/v1',
};

async function schemaCheck(object: Record<string, unknown>): Promise<void> {
  const apiVersion = String(object['apiVersion']);
  const kind = String(object['kind']);
  const module = MODULES[apiVersion];
  assert.ok(module, `no schema module for ${apiVersion}`);
  const ModelClass = (await importEsm(module))[kind] as Model | undefined;
  assert.ok(ModelClass, `no schema for ${apiVersion} ${kind}`);
  try {
    new ModelClass(object).validate();
  } catch (err) {
    assert.fail(
      `${kind} ${(object['metadata'] as { name: string }).name} breaks the Kubernetes schema: ${(err as Error).message}`,
    );
  }
}

function portcullisEval(objects: ReadonlyArray<Record<string, unknown>>): {
  code: number;
  results: Array<{
    kind: string;
    name: string;
    decision: string;
    violations: Array<{ rule: string; message: string }>;
  }>;
} {
  const file = path.join(tempDir(), 'rendered.yaml');
  fs.writeFileSync(file, objects.map((o) => YAML.stringify(o)).join('---\n'));
  const r = spawnSync(
    process.execPath,
    [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'eval', '--format', 'json', file],
    { encoding: 'utf8' },
  );
  return {
    code: r.status ?? -1,
    results: (JSON.parse(r.stdout) as { results: ReturnType<typeof portcullisEval>['results'] }).results,
  };
}

const byKind = (objects: ReadonlyArray<Record<string, unknown>>, kind: string) =>
  objects.find((o) => o['kind'] === kind) as Record<string, any>;

// The chart is rendered and linted by real Helm 3 (helm template, helm lint --strict).
const renderChart = (values: Record<string, unknown>) => helmTemplate(CHART, RELEASE, values);

describe('deploy/helm/portcullis-agent', { skip: helmUnavailableReason() }, () => {
  let objects: Array<Record<string, unknown>>;
  before(async () => {
    objects = await renderChart(required);
  });

  it('is checked by Helm 3', async () => {
    const r = await helm(['version', '--short']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^v3\./);
  });

  it('passes `helm lint --strict`', async () => {
    const r = await helmLint(CHART, required);
    assert.equal(r.code, 0, `helm lint --strict:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('`helm lint` has teeth: a template that renders invalid YAML fails it, naming the template', async () => {
    const broken = path.join(tempDir(), 'portcullis-agent');
    fs.cpSync(CHART, broken, { recursive: true });
    fs.writeFileSync(
      path.join(broken, 'templates', 'broken.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {{ .Release.Name }}: [\n',
    );
    const r = await helmLint(broken, required);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout + r.stderr, /templates\/broken\.yaml/);
  });

  it('renders a Deployment, Service, ValidatingWebhookConfiguration, cert-manager Issuer and Certificate, Secret, ConfigMap, PDB', () => {
    assert.deepEqual(objects.map((o) => o['kind']).sort(), [
      'Certificate',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'Issuer',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'ServiceAccount',
      'ValidatingWebhookConfiguration',
    ]);
  });

  it('every object validates against the Kubernetes (and cert-manager) schemas', async () => {
    for (const o of objects) await schemaCheck(o);
    for (const o of await renderChart({
      ...required,
      tls: {
        certManager: { enabled: false },
        existingSecret: 'my-tls',
        caBundle: Buffer.from('pem').toString('base64'),
      },
      credential: { existingSecret: 'agent-cred' },
      excludedNamespaces: ['monitoring'],
    }))
      await schemaCheck(o);
  });

  it('passes `portcullis eval` with the default misconfiguration policy (Block)', () => {
    const r = portcullisEval(objects);
    assert.equal(
      r.code,
      0,
      JSON.stringify(
        r.results.filter((x) => x.decision === 'deny'),
        null,
        2,
      ),
    );
    const deployment = r.results.find((x) => x.kind === 'Deployment')!;
    assert.equal(deployment.decision, 'allow');
    assert.deepEqual(deployment.violations, []);
  });

  it('the eval check has teeth: without limits the chart would fail', async () => {
    const noLimits = portcullisEval(await renderChart({ ...required, resources: { limits: null } }));
    assert.equal(noLimits.code, 1);
    assert.ok(
      noLimits.results.find((x) => x.kind === 'Deployment')!.violations.some((v) => v.rule === 'resource-limits'),
    );
  });

  it('Deployment: 2 replicas, non-root, read-only root filesystem, no privilege escalation, limits, probes on the metrics port', () => {
    const d = byKind(objects, 'Deployment');
    assert.equal(d.spec.replicas, 2);
    const pod = d.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.automountServiceAccountToken, false);
    const c = pod.containers[0];
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual(c.resources.limits, { cpu: '1', memory: '256Mi' });
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    const env = Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
    assert.equal(env['PORTCULLIS_API_URL'], 'https://portcullis.example.com');
    assert.equal(env['PORTCULLIS_AGENT_NAMESPACE'], 'portcullis-system');
    assert.equal(env['PORTCULLIS_AGENT_TOKEN_FILE'], '/etc/portcullis/credential/token');
    assert.ok(
      pod.volumes.some((v: { name: string; emptyDir?: unknown }) => v.name === 'state' && v.emptyDir),
      'spool and bundle live on a writable volume',
    );
  });

  it('webhook: failurePolicy Ignore, a timeout, its own namespace and kube-system excluded, CA from cert-manager', () => {
    const w = byKind(objects, 'ValidatingWebhookConfiguration');
    const hook = w.webhooks[0];
    assert.equal(hook.failurePolicy, 'Ignore');
    assert.equal(hook.timeoutSeconds, 5);
    assert.deepEqual(hook.namespaceSelector.matchExpressions[0], {
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['portcullis-system', 'kube-system'],
    });
    assert.deepEqual(hook.clientConfig.service, {
      name: 'portcullis-agent',
      namespace: 'portcullis-system',
      path: '/validate',
      port: 443,
    });
    assert.equal(
      w.metadata.annotations['cert-manager.io/inject-ca-from'],
      'portcullis-system/portcullis-agent-webhook',
    );
    const objectRules = hook.rules.filter(
      (r: { resources: string[] }) => !r.resources.some((res) => res.includes('/')),
    );
    assert.deepEqual(objectRules.flatMap((r: { resources: string[] }) => r.resources).sort(), [
      'cronjobs',
      'daemonsets',
      'deployments',
      'ingresses',
      'jobs',
      'pods',
      'podtemplates',
      'replicasets',
      'replicationcontrollers',
      'statefulsets',
    ]);
    assert.ok(objectRules.every((r: { operations: string[] }) => r.operations.join() === 'CREATE,UPDATE'));
    const cert = byKind(objects, 'Certificate');
    assert.deepEqual(cert.spec.dnsNames, [
      'portcullis-agent.portcullis-system.svc',
      'portcullis-agent.portcullis-system.svc.cluster.local',
    ]);
    assert.equal(
      byKind(objects, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret
        .secretName,
      cert.spec.secretName,
    );
  });

  it('webhook: pods/ephemeralcontainers UPDATE is covered, so `kubectl debug` cannot add a container unseen', () => {
    const hook = byKind(objects, 'ValidatingWebhookConfiguration').webhooks[0];
    type Rule = {
      apiGroups: string[];
      apiVersions: string[];
      operations: string[];
      resources: string[];
      scope: string;
    };
    const sub = (hook.rules as Rule[]).filter((r) => r.resources.includes('pods/ephemeralcontainers'));
    assert.equal(sub.length, 1, 'one rule names the subresource');
    assert.deepEqual(sub[0], {
      apiGroups: [''],
      apiVersions: ['v1'],
      operations: ['UPDATE'],
      resources: ['pods/ephemeralcontainers'],
      scope: 'Namespaced',
    });
    // `pods` alone does not match a subresource: kube-apiserver matches `pods/ephemeralcontainers` (or `pods/*`) only
    assert.ok(
      (hook.rules as Rule[]).every((r) => r.resources.every((res) => res !== 'pods/*' && res !== '*/*')),
      'no wildcard subresource rule: exec, logs and status stay out',
    );
  });

  it('values: extra exclusions reach both the webhook and the agent; a provided TLS secret and credential replace the generated ones', async () => {
    const o = await renderChart({
      ...required,
      excludedNamespaces: ['monitoring'],
      tls: { certManager: { enabled: false }, existingSecret: 'my-tls', caBundle: 'Q0E=' },
      credential: { existingSecret: 'agent-cred' },
      webhook: { failurePolicy: 'Fail' },
    });
    assert.deepEqual(o.map((x) => x['kind']).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ValidatingWebhookConfiguration',
    ]);
    const hook = byKind(o, 'ValidatingWebhookConfiguration').webhooks[0];
    assert.deepEqual(hook.namespaceSelector.matchExpressions[0].values, [
      'portcullis-system',
      'kube-system',
      'monitoring',
    ]);
    assert.equal(hook.clientConfig.caBundle, 'Q0E=');
    assert.equal(hook.failurePolicy, 'Fail');
    const pod = byKind(o, 'Deployment').spec.template.spec;
    const env = Object.fromEntries(
      (pod.containers[0].env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]),
    );
    assert.equal(env['PORTCULLIS_EXCLUDED_NAMESPACES'], 'portcullis-system,kube-system,monitoring');
    assert.equal(pod.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName, 'my-tls');
    assert.equal(pod.volumes.find((v: { name: string }) => v.name === 'credential').secret.secretName, 'agent-cred');
  });

  const clusterRoles = (o: ReadonlyArray<Record<string, unknown>>) =>
    o.filter((x) => x['kind'] === 'ClusterRole') as Array<{ metadata: { name: string }; rules: unknown[] }>;
  const roleNamed = (o: ReadonlyArray<Record<string, unknown>>, suffix: string) =>
    clusterRoles(o).find((r) => r.metadata.name === `${RELEASE.name}-${suffix}`);
  const bindingOf = (o: ReadonlyArray<Record<string, unknown>>, role: string) =>
    (
      o.filter((x) => x['kind'] === 'ClusterRoleBinding') as Array<{
        roleRef: { apiGroup: string; kind: string; name: string };
        subjects: unknown[];
      }>
    ).find((b) => b.roleRef.name === role);
  const envOf = (pod: { containers: Array<{ env: Array<{ name: string; value: string }> }> }) =>
    Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value]));

  it('native enforcement off (the default): no role that can write ValidatingAdmissionPolicies', () => {
    assert.equal(roleNamed(objects, 'native-enforcement'), undefined);
    assert.equal(
      objects.some((o) => o['kind'] === 'ClusterRoleBinding' && JSON.stringify(o).includes('native-enforcement')),
      false,
    );
    const env = envOf(byKind(objects, 'Deployment').spec.template.spec);
    assert.equal(env['PORTCULLIS_NATIVE_RESYNC_SECONDS'], undefined);
  });

  it('native enforcement on: a ClusterRole with exactly the VAP verbs and GET /metrics, bound to the agent, its token mounted explicitly', async () => {
    const o = await renderChart({
      ...required,
      nativeEnforcement: { enabled: true, resyncSeconds: 120 },
      backgroundAudit: { enabled: false },
    });
    for (const x of o) await schemaCheck(x);
    const role = roleNamed(o, 'native-enforcement')!;
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'],
        verbs: ['get', 'list', 'create', 'patch', 'delete'],
      },
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ]);
    const binding = bindingOf(o, role.metadata.name)!;
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: RELEASE.name, namespace: RELEASE.namespace }]);
    assert.equal(o.filter((x) => String(x['kind']).includes('Role')).length, 2, 'no other Role or binding');
    const pod = byKind(o, 'Deployment').spec.template.spec;
    // the pod-level switch stays off (the default policy's automount rule); the token is projected where client-node reads it
    assert.equal(pod.automountServiceAccountToken, false);
    const mounts = pod.containers[0].volumeMounts.filter(
      (m: { mountPath: string }) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0].readOnly, true);
    const volume = pod.volumes.find((v: { name: string }) => v.name === mounts[0].name);
    assert.deepEqual(
      volume.projected.sources.map((s: Record<string, unknown>) => Object.keys(s)[0]),
      ['serviceAccountToken', 'configMap', 'downwardAPI'],
    );
    const env = envOf(pod);
    assert.equal(env['PORTCULLIS_NATIVE_RESYNC_SECONDS'], '120');
    assert.equal(env['PORTCULLIS_NATIVE_METRICS_SECONDS'], '60');
    const evaluated = portcullisEval(o);
    assert.equal(evaluated.code, 0, JSON.stringify(evaluated.results.filter((r) => r.decision !== 'allow')));
  });

  it('background audit (the default): a read-only ClusterRole on exactly the watched kinds, bound to the agent; its token mounted explicitly', () => {
    const role = roleNamed(objects, 'background-audit')!;
    const granted = (role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>).flatMap(
      (r) => {
        assert.deepEqual(r.verbs, ['get', 'list', 'watch'], 'read-only');
        return r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`));
      },
    );
    assert.deepEqual(granted.sort(), [
      '/pods',
      '/replicationcontrollers',
      'apps/daemonsets',
      'apps/deployments',
      'apps/replicasets',
      'apps/statefulsets',
      'batch/cronjobs',
      'batch/jobs',
      'networking.k8s.io/ingresses',
    ]);
    const binding = bindingOf(objects, role.metadata.name)!;
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: RELEASE.name, namespace: RELEASE.namespace }]);
    assert.equal(clusterRoles(objects).length, 1, 'only the read-only role by default');
    const pod = byKind(objects, 'Deployment').spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'kube-api-access');
    assert.equal(mount.mountPath, '/var/run/secrets/kubernetes.io/serviceaccount');
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'kube-api-access');
    assert.ok(volume.projected.sources.some((s: { serviceAccountToken?: unknown }) => s.serviceAccountToken));
    const env = envOf(pod);
    assert.equal(env['PORTCULLIS_BACKGROUND_AUDIT'], 'true');
    assert.equal(env['PORTCULLIS_BACKGROUND_INTERVAL_SECONDS'], '3600');
  });

  it('both on: two roles, one token mount', async () => {
    const o = await renderChart({ ...required, nativeEnforcement: { enabled: true } });
    assert.deepEqual(
      clusterRoles(o)
        .map((r) => r.metadata.name)
        .sort(),
      [`${RELEASE.name}-background-audit`, `${RELEASE.name}-native-enforcement`],
    );
    const pod = byKind(o, 'Deployment').spec.template.spec;
    assert.equal(pod.volumes.filter((v: { name: string }) => v.name === 'kube-api-access').length, 1);
    assert.equal(
      pod.containers[0].volumeMounts.filter((m: { name: string }) => m.name === 'kube-api-access').length,
      1,
    );
  });

  it('background audit and native enforcement disabled: no ClusterRole, no token, and the agent is told so', async () => {
    const off = await renderChart({ ...required, backgroundAudit: { enabled: false } });
    assert.ok(!off.some((o) => o['kind'] === 'ClusterRole' || o['kind'] === 'ClusterRoleBinding'));
    const pod = byKind(off, 'Deployment').spec.template.spec;
    assert.ok(!pod.volumes.some((v: { name: string }) => v.name === 'kube-api-access'));
    assert.ok(!(pod.volumes as Array<{ projected?: unknown }>).some((v) => v.projected));
    assert.equal(envOf(pod)['PORTCULLIS_BACKGROUND_AUDIT'], 'false');
  });

  it('missing required values fail the render, naming the value', async () => {
    await assert.rejects(
      renderChart({ ...required, api: { url: '' } }),
      (e: Error) => e instanceof HelmTemplateError && /api\.url is required/.test(e.message),
    );
    await assert.rejects(
      renderChart({ ...required, credential: { token: '' } }),
      /credential\.token or credential\.existingSecret is required/,
    );
    await assert.rejects(
      renderChart({ ...required, tls: { certManager: { enabled: false }, existingSecret: 'my-tls' } }),
      /tls\.caBundle is required when tls\.certManager\.enabled is false/,
    );
  });
});
