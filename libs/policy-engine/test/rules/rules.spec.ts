/**
 * Per-rule tables, written from the Kubernetes documentation (Pod Security Standards,
 * securityContext reference, resource quantities): pass and fail cases in every
 * workload kind and container list, precedence, and parameter edge cases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RULE_CATALOG, defaultRuleConfigs, expandPreset, validateRuleParams } from '@portcullis/policy-engine';
import { CONTAINER_TYPES, POD_PATH, WORKLOADS, findings, hardened, podWith } from './support';

const rulesOf = (fs: ReturnType<typeof findings>) => fs.map((f) => f.rule);

describe('catalog', () => {
  it('has every rule id DESIGN.md §4 names, each fully described', () => {
    const ids = RULE_CATALOG.map((r) => r.id).sort();
    assert.deepEqual(ids, [
      'apparmor-profile',
      'automount-service-account-token',
      'capabilities',
      'default-namespace',
      'host-namespaces',
      'host-path-volumes',
      'host-ports',
      'host-probes',
      'ingress-https',
      'privilege-escalation',
      'privileged-container',
      'proc-mount',
      'read-only-root-filesystem',
      'resource-limits',
      'run-as-non-root',
      'seccomp-profile',
      'selinux-options',
      'sysctls',
      'trusted-registries',
      'volume-types',
      'vulnerability-assessment-required',
      'vulnerability-blocked-cves',
      'vulnerability-severity',
      'windows-host-process',
    ]);
    for (const r of RULE_CATALOG) {
      assert.ok(r.title && r.description && r.remediation && r.category, r.id);
      for (const [name, schema] of Object.entries(r.parameters.properties ?? {}))
        assert.ok('default' in schema, `${r.id}.${name} has a default`);
    }
    assert.equal(RULE_CATALOG.find((r) => r.id === 'trusted-registries')!.defaultEnabled, false);
  });
  it('the default misconfiguration policy is PSS baseline (but seccomp, whose default is the restricted variant) plus workload hygiene', () => {
    const ids = defaultRuleConfigs('MISCONFIGURATION')
      .map((r) => r.id)
      .sort();
    assert.deepEqual(ids, [
      'apparmor-profile',
      'capabilities',
      'default-namespace',
      'host-namespaces',
      'host-path-volumes',
      'host-ports',
      'host-probes',
      'ingress-https',
      'privilege-escalation',
      'privileged-container',
      'proc-mount',
      'read-only-root-filesystem',
      'resource-limits',
      'run-as-non-root',
      'selinux-options',
      'sysctls',
      'windows-host-process',
    ]);
    for (const r of expandPreset('pss-baseline')) if (r.id !== 'seccomp-profile') assert.ok(ids.includes(r.id), r.id);
    assert.deepEqual(
      defaultRuleConfigs('VULNERABILITY')
        .map((r) => r.id)
        .sort(),
      ['vulnerability-assessment-required', 'vulnerability-severity'],
    );
  });
  it('default policies and presets validate against their own schemas', () => {
    for (const r of [
      ...defaultRuleConfigs('MISCONFIGURATION'),
      ...defaultRuleConfigs('VULNERABILITY'),
      ...expandPreset('pss-baseline'),
      ...expandPreset('pss-restricted'),
    ]) {
      assert.ok(validateRuleParams(r.id, r.params).ok, r.id);
    }
  });
  it('a hardened container passes every default misconfiguration rule in every workload kind', () => {
    for (const [kind, wrap] of Object.entries(WORKLOADS)) {
      const obj = wrap({ automountServiceAccountToken: false, containers: [hardened()] });
      for (const r of defaultRuleConfigs('MISCONFIGURATION'))
        assert.deepEqual(findings(r.id, obj, r.params), [], `${kind} ${r.id}`);
    }
  });
});

describe('privileged-container in every workload kind and container list', () => {
  for (const [kind, wrap] of Object.entries(WORKLOADS)) {
    for (const type of CONTAINER_TYPES) {
      it(`${kind} ${type}: privileged fails at the exact path; unprivileged passes`, () => {
        const bad = findings(
          'privileged-container',
          wrap(podWith(type, hardened('x', { securityContext: { privileged: true } }))),
        );
        assert.equal(bad.length, 1);
        const index = type === 'containers' ? 1 : 0;
        assert.equal(bad[0]!.path, `${POD_PATH[kind]}.${type}[${index}].securityContext.privileged`);
        assert.equal(bad[0]!.container, 'x');
        assert.match(bad[0]!.message, /set securityContext.privileged to false/);
        assert.deepEqual(findings('privileged-container', wrap(podWith(type, hardened('x')))), []);
      });
    }
  }
});

describe('resource-limits', () => {
  const pod = (limits: Record<string, unknown> | undefined) =>
    WORKLOADS['Deployment']!({
      containers: [{ name: 'c', image: 'nginx', ...(limits ? { resources: { limits } } : {}) }],
    });
  const cases: Array<[string, Record<string, unknown> | undefined, Record<string, unknown>, string[]]> = [
    ['no limits', undefined, {}, ['cpu', 'memory']],
    ['only cpu', { cpu: '1' }, {}, ['memory']],
    ['both', { cpu: '500m', memory: '1.5Gi' }, {}, []],
    ['memory not required', { cpu: '1' }, { requireMemoryLimit: false }, []],
    ['500m under max 1', { cpu: '500m', memory: '1Gi' }, { maxCpuLimit: '1' }, []],
    ['1500m over max 1', { cpu: '1500m', memory: '1Gi' }, { maxCpuLimit: '1' }, ['cpu']],
    ['1.5Gi under 2Gi', { cpu: '1', memory: '1.5Gi' }, { maxMemoryLimit: '2Gi' }, []],
    ['3Gi over 2Gi', { cpu: '1', memory: '3Gi' }, { maxMemoryLimit: '2Gi' }, ['memory']],
    ['1e3M over 512Mi', { cpu: '1', memory: '1e9' }, { maxMemoryLimit: '512Mi' }, ['memory']],
    ['2000Mi = 1.95Gi under 2Gi', { cpu: '1', memory: '2000Mi' }, { maxMemoryLimit: '2Gi' }, []],
    ['garbage quantity', { cpu: 'lots', memory: '1Gi' }, {}, ['cpu']],
  ];
  for (const [name, limits, params, failing] of cases) {
    it(name, () => {
      const fs = findings('resource-limits', pod(limits), params);
      assert.deepEqual(fs.map((f) => f.path.split('.').pop()).sort(), failing.sort());
    });
  }
  it('ephemeral containers cannot carry resources and are not asked to', () => {
    assert.deepEqual(
      findings(
        'resource-limits',
        WORKLOADS['Pod']!(podWith('ephemeralContainers', { name: 'debug', image: 'busybox' })),
      ),
      [],
    );
  });
  it('parameters: quantities are validated and named', () => {
    const bad = validateRuleParams('resource-limits', { maxMemoryLimit: '4Gb' });
    assert.equal(bad.ok, false);
    assert.match(
      (bad as unknown as { errors: Array<{ message: string }> }).errors[0]!.message,
      /rule "resource-limits": parameter "maxMemoryLimit": "4Gb" is not a Kubernetes quantity/,
    );
    assert.ok(validateRuleParams('resource-limits', { maxCpuLimit: '500m', maxMemoryLimit: '1.5Gi' }).ok);
    assert.equal(validateRuleParams('resource-limits', { unknownThing: 1 }).ok, false);
  });
  it('parameters: a YAML number is a quantity; a maximum of zero or below is refused', () => {
    const v = validateRuleParams('resource-limits', { maxCpuLimit: 2 });
    assert.ok(v.ok);
    assert.equal(findings('resource-limits', pod({ cpu: '2500m', memory: '1Gi' }), { maxCpuLimit: 2 }).length, 1);
    assert.equal(findings('resource-limits', pod({ cpu: 2, memory: '1Gi' }), { maxCpuLimit: '2' }).length, 0);
    for (const bad of ['0', '-1', 0]) {
      const r = validateRuleParams('resource-limits', { maxMemoryLimit: bad });
      assert.equal(r.ok, false, String(bad));
      assert.match(
        (r as unknown as { errors: Array<{ message: string }> }).errors[0]!.message,
        /rule "resource-limits": parameter "maxMemoryLimit": .* must be greater than zero/,
      );
    }
  });
});

describe('capabilities', () => {
  const caps = (capabilities: Record<string, unknown>, type: (typeof CONTAINER_TYPES)[number] = 'containers') =>
    WORKLOADS['Pod']!(podWith(type, { name: 'x', image: 'i', securityContext: { capabilities } }));
  it('restricted default: drop ALL, add only NET_BIND_SERVICE', () => {
    assert.deepEqual(findings('capabilities', caps({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] })), []);
    assert.deepEqual(rulesOf(findings('capabilities', caps({ drop: ['ALL'], add: ['SYS_ADMIN'] }))), ['capabilities']);
    assert.deepEqual(rulesOf(findings('capabilities', caps({ drop: ['NET_RAW'] }))), ['capabilities']);
    for (const type of CONTAINER_TYPES) assert.equal(findings('capabilities', caps({}, type)).length, 1, type);
  });
  it('parameters accept CAP_ prefixes and any case; pod specs must use canonical names', () => {
    const p = { requiredDrop: ['cap_all'], allowedAdd: ['CAP_NET_BIND_SERVICE', 'chown'] };
    assert.ok(validateRuleParams('capabilities', p).ok);
    assert.deepEqual(findings('capabilities', caps({ drop: ['ALL'], add: ['CHOWN', 'NET_BIND_SERVICE'] }), p), []);
    const lower = findings('capabilities', caps({ drop: ['ALL'], add: ['chown'] }), p);
    assert.equal(lower.length, 1);
    assert.match(lower[0]!.message, /write it as CHOWN/);
    assert.equal(findings('capabilities', caps({ drop: ['ALL'], add: ['CAP_CHOWN'] }), p).length, 1);
    assert.equal(validateRuleParams('capabilities', { allowedAdd: ['not a capability!'] }).ok, false);
  });
  it('baseline parameters: no drop required, the baseline add list allowed', () => {
    const baseline = expandPreset('pss-baseline').find((r) => r.id === 'capabilities')!.params;
    assert.deepEqual(findings('capabilities', caps({ add: ['CHOWN', 'KILL'] }), baseline), []);
    assert.equal(findings('capabilities', caps({ add: ['NET_ADMIN'] }), baseline).length, 1);
  });
});

describe('run-as-non-root: Kubernetes precedence and id ranges', () => {
  const pod = (podSc: Record<string, unknown>, containerSc: Record<string, unknown> = {}) =>
    WORKLOADS['StatefulSet']!({
      securityContext: podSc,
      containers: [{ name: 'c', image: 'i', securityContext: containerSc }],
    });
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, number]> = [
    ['pod runAsNonRoot', { runAsNonRoot: true }, {}, {}, 0],
    ['pod non-zero user', { runAsUser: 1000 }, {}, {}, 0],
    ['nothing set', {}, {}, {}, 1],
    ['container overrides pod true with false', { runAsNonRoot: true }, { runAsNonRoot: false }, {}, 1],
    ['container user 0 always fails', { runAsNonRoot: true }, { runAsUser: 0 }, {}, 1],
    ['pod user 0 always fails', { runAsUser: 0, runAsNonRoot: true }, { runAsUser: 1000 }, {}, 1],
    ['requireRunAsNonRoot: a uid is not enough', { runAsUser: 1000 }, {}, { requireRunAsNonRoot: true }, 1],
    ['requireRunAsNonRoot: container level suffices', {}, { runAsNonRoot: true }, { requireRunAsNonRoot: true }, 0],
    ['uid in range', { runAsNonRoot: true, runAsUser: 10001 }, {}, { allowedUserIds: [{ min: 10000, max: 20000 }] }, 0],
    [
      'uid out of range',
      { runAsNonRoot: true, runAsUser: 1000 },
      {},
      { allowedUserIds: [{ min: 10000, max: 20000 }] },
      1,
    ],
    ['uid required by range', { runAsNonRoot: true }, {}, { allowedUserIds: [{ min: 1, max: 65535 }] }, 1],
    [
      'groups in range',
      { runAsNonRoot: true, runAsGroup: 3000, fsGroup: 3000, supplementalGroups: [3001] },
      {},
      { allowedGroupIds: [{ min: 3000, max: 3999 }] },
      0,
    ],
    [
      'supplemental group out of range',
      { runAsNonRoot: true, runAsGroup: 3000, fsGroup: 3000, supplementalGroups: [0] },
      {},
      { allowedGroupIds: [{ min: 3000, max: 3999 }] },
      1,
    ],
  ];
  for (const [name, podSc, cSc, params, count] of cases) {
    it(name, () => assert.equal(findings('run-as-non-root', pod(podSc, cSc), params).length, count));
  }
  it('range parameters: min above max is refused naming the index', () => {
    const r = validateRuleParams('run-as-non-root', {
      allowedUserIds: [
        { min: 1, max: 10 },
        { min: 50, max: 5 },
      ],
    });
    assert.equal(r.ok, false);
    assert.match(
      (r as unknown as { errors: Array<{ message: string }> }).errors[0]!.message,
      /allowedUserIds\[1\].*min 50 is greater than max 5/,
    );
    assert.equal(validateRuleParams('run-as-non-root', { allowedUserIds: [{ min: -1, max: 5 }] }).ok, false);
  });
});

describe('other misconfiguration rules', () => {
  it('privilege-escalation must be explicitly false (Windows pods exempt)', () => {
    const pod = (sc: Record<string, unknown>, extra = {}) =>
      WORKLOADS['Job']!({ ...extra, containers: [{ name: 'c', image: 'i', securityContext: sc }] });
    assert.equal(findings('privilege-escalation', pod({})).length, 1);
    assert.equal(findings('privilege-escalation', pod({ allowPrivilegeEscalation: true })).length, 1);
    assert.equal(findings('privilege-escalation', pod({ allowPrivilegeEscalation: false })).length, 0);
    assert.equal(findings('privilege-escalation', pod({}, { os: { name: 'windows' } })).length, 0);
  });
  it('host-namespaces honours each allow flag', () => {
    const pod = WORKLOADS['DaemonSet']!({ hostNetwork: true, hostPID: true, containers: [hardened()] });
    assert.deepEqual(
      findings('host-namespaces', pod).map((f) => f.path),
      ['spec.template.spec.hostPID', 'spec.template.spec.hostNetwork'],
    );
    assert.deepEqual(findings('host-namespaces', pod, { allowHostNetwork: true, allowHostPID: true }), []);
  });
  it('automount-service-account-token must be false on the pod spec', () => {
    assert.equal(
      findings('automount-service-account-token', WORKLOADS['Pod']!({ containers: [hardened()] })).length,
      1,
    );
    assert.equal(
      findings(
        'automount-service-account-token',
        WORKLOADS['Pod']!({ automountServiceAccountToken: false, containers: [hardened()] }),
      ).length,
      0,
    );
  });
  it('read-only-root-filesystem on every container type', () => {
    for (const type of CONTAINER_TYPES)
      assert.equal(
        findings('read-only-root-filesystem', WORKLOADS['Pod']!(podWith(type, { name: 'w', image: 'i' }))).length,
        1,
        type,
      );
  });
  it('default-namespace applies to every namespaced object, and the -n default', () => {
    assert.equal(
      findings('default-namespace', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }).length,
      1,
    );
    assert.equal(
      findings('default-namespace', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'apps' } })
        .length,
      0,
    );
    assert.equal(
      findings('default-namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }).length,
      0,
    );
    assert.equal(
      findings(
        'default-namespace',
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'kube-public' } },
        { blockedNamespaces: ['kube-public'] },
      ).length,
      1,
    );
  });
  it('host-ports: hostPort 0 is fine, an allowed port is fine', () => {
    const pod = (hostPort: number) =>
      WORKLOADS['Pod']!({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort }] }] });
    assert.equal(findings('host-ports', pod(0)).length, 0);
    assert.equal(findings('host-ports', pod(8080)).length, 1);
    assert.equal(findings('host-ports', pod(8080), { allowedPorts: [8080] }).length, 0);
  });
  it('volume-types and host-path-volumes', () => {
    const pod = WORKLOADS['Deployment']!({
      containers: [hardened()],
      volumes: [
        { name: 'a', emptyDir: {} },
        { name: 'b', hostPath: { path: '/var/run' } },
        { name: 'c', nfs: { server: 'x', path: '/' } },
      ],
    });
    assert.deepEqual(
      findings('host-path-volumes', pod).map((f) => f.path),
      ['spec.template.spec.volumes[1].hostPath'],
    );
    assert.deepEqual(
      findings('volume-types', pod).map((f) => f.path),
      ['spec.template.spec.volumes[1].hostPath', 'spec.template.spec.volumes[2].nfs'],
    );
  });
});

describe('trusted-registries: patterns against the image as written and normalised', () => {
  const pod = (image: string) => WORKLOADS['Pod']!({ containers: [{ name: 'c', image }] });
  const cases: Array<[string, string[], boolean]> = [
    ['nginx', ['docker.io/library/'], true],
    ['nginx', ['docker.io/library/nginx:latest'], true],
    ['library/nginx:1.27', ['docker.io/library/*'], true],
    ['mcr.microsoft.com/dotnet/aspnet:8.0', ['mcr.microsoft.com/'], true],
    ['mcr.microsoft.com.evil.io/dotnet', ['mcr.microsoft.com/'], false],
    ['localhost:5000/team/app@sha256:' + 'a'.repeat(64), ['localhost:5000/team/*'], true],
    ['quay.io/prometheus/node-exporter:v1.8.0', ['docker.io/*'], false],
    ['ghcr.io/org/tool:1', [], false],
  ];
  for (const [image, allowed, ok] of cases) {
    it(`${image} with ${JSON.stringify(allowed)}: ${ok ? 'allowed' : 'refused'}`, () =>
      assert.equal(findings('trusted-registries', pod(image), { allowedImages: allowed }).length, ok ? 0 : 1));
  }
});

describe('ingress-https across API groups', () => {
  for (const apiVersion of ['networking.k8s.io/v1', 'networking.k8s.io/v1beta1', 'extensions/v1beta1']) {
    it(apiVersion, () => {
      const ing = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
        apiVersion,
        kind: 'Ingress',
        metadata: { name: 'web', namespace: 'apps', annotations },
        spec,
      });
      assert.equal(findings('ingress-https', ing({ rules: [] })).length, 1);
      assert.equal(findings('ingress-https', ing({ tls: [{ hosts: ['a.example.com'], secretName: 's' }] })).length, 0);
      assert.equal(
        findings('ingress-https', ing({ tls: [{ secretName: 's' }] }), { requireHttpDisabledAnnotation: true }).length,
        1,
      );
      assert.equal(
        findings(
          'ingress-https',
          ing({ tls: [{ secretName: 's' }] }, { 'kubernetes.io/ingress.allow-http': 'false' }),
          { requireHttpDisabledAnnotation: true },
        ).length,
        0,
      );
    });
  }
});
