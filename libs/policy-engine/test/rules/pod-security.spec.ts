/**
 * The Pod Security Standards checks that are rules of their own, as tables from the
 * PSS page (kubernetes.io/docs/concepts/security/pod-security-standards): the allowed
 * and forbidden values, pod- versus container-level precedence, Windows exemptions,
 * and the exact path of each finding in every container list.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandPreset } from '@portcullis/policy-engine';
import { CONTAINER_TYPES, WORKLOADS, findings, podWith } from './support';

const presetParams = (preset: 'pss-baseline' | 'pss-restricted', id: string) =>
  expandPreset(preset).find((r) => r.id === id)!.params;
const paths = (fs: ReturnType<typeof findings>) => fs.map((f) => f.path);
const c = (securityContext: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'x',
  image: 'i',
  securityContext,
  ...extra,
});

describe('seccomp-profile', () => {
  const restricted = presetParams('pss-restricted', 'seccomp-profile');
  const baseline = presetParams('pss-baseline', 'seccomp-profile');
  const pod = (podSc: Record<string, unknown>, containerSc: Record<string, unknown>, extra = {}) =>
    WORKLOADS['Deployment']!({ ...extra, securityContext: podSc, containers: [c(containerSc)] });
  const RD = { seccompProfile: { type: 'RuntimeDefault' } };
  const LH = { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } };
  const UN = { seccompProfile: { type: 'Unconfined' } };
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string[], string[]]> = [
    // name, pod sc, container sc, restricted paths, baseline paths
    ['pod RuntimeDefault', RD, {}, [], []],
    ['container Localhost only', {}, LH, [], []],
    ['nothing set', {}, {}, ['spec.template.spec.securityContext.seccompProfile.type'], []],
    [
      'container Unconfined overrides pod RuntimeDefault',
      RD,
      UN,
      ['spec.template.spec.containers[0].securityContext.seccompProfile.type'],
      ['spec.template.spec.containers[0].securityContext.seccompProfile.type'],
    ],
    [
      'pod Unconfined fails even when the container sets RuntimeDefault',
      UN,
      RD,
      ['spec.template.spec.securityContext.seccompProfile.type'],
      ['spec.template.spec.securityContext.seccompProfile.type'],
    ],
  ];
  for (const [name, podSc, cSc, r, b] of cases) {
    it(name, () => {
      assert.deepEqual(paths(findings('seccomp-profile', pod(podSc, cSc), restricted)), r, 'restricted');
      assert.deepEqual(paths(findings('seccomp-profile', pod(podSc, cSc), baseline)), b, 'baseline');
    });
  }
  it('Windows pods are exempt from the restricted requirement', () => {
    assert.deepEqual(findings('seccomp-profile', pod({}, {}, { os: { name: 'windows' } }), restricted), []);
  });
  for (const type of CONTAINER_TYPES) {
    it(`${type}: each container without a profile is named`, () => {
      const out = findings(
        'seccomp-profile',
        WORKLOADS['Pod']!(podWith(type, c({}), { securityContext: {} })),
        restricted,
      );
      assert.ok(
        out.some((f) => f.container === 'x'),
        JSON.stringify(out),
      );
    });
  }
});

describe('apparmor-profile', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, string>, string[]]> = [
    [
      'RuntimeDefault and Localhost fields',
      { appArmorProfile: { type: 'RuntimeDefault' } },
      { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-nginx' } },
      {},
      [],
    ],
    [
      'container Unconfined',
      {},
      { appArmorProfile: { type: 'Unconfined' } },
      {},
      ['spec.template.spec.containers[0].securityContext.appArmorProfile.type'],
    ],
    [
      'pod Unconfined',
      { appArmorProfile: { type: 'Unconfined' } },
      {},
      {},
      ['spec.template.spec.securityContext.appArmorProfile.type'],
    ],
    [
      'legacy annotation runtime/default, localhost/ and empty',
      {},
      {},
      {
        'container.apparmor.security.beta.kubernetes.io/x': 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/y': 'localhost/p',
        'container.apparmor.security.beta.kubernetes.io/z': '',
      },
      [],
    ],
    [
      'legacy annotation unconfined',
      {},
      {},
      { 'container.apparmor.security.beta.kubernetes.io/x': 'unconfined' },
      ['spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/x"]'],
    ],
    ['other annotations are not AppArmor', {}, {}, { 'example.com/apparmor': 'unconfined' }, []],
  ];
  for (const [name, podSc, cSc, annotations, expected] of cases) {
    it(name, () => {
      const obj = WORKLOADS['Deployment']!({ securityContext: podSc, containers: [c(cSc)] }, { annotations });
      assert.deepEqual(paths(findings('apparmor-profile', obj)), expected);
    });
  }
});

describe('selinux-options', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['container_t with a level', { type: 'container_t', level: 's0:c123,c456' }, []],
    ['container_init_t', { type: 'container_init_t' }, []],
    ['container_kvm_t', { type: 'container_kvm_t' }, []],
    ['container_engine_t', { type: 'container_engine_t' }, []],
    ['spc_t (unconfined)', { type: 'spc_t' }, ['type']],
    ['user set', { user: 'system_u' }, ['user']],
    ['role set', { role: 'system_r' }, ['role']],
    ['empty user and role are unset', { user: '', role: '' }, []],
  ];
  for (const [name, opts, fields] of cases) {
    it(`${name} (pod and container level)`, () => {
      const onPod = WORKLOADS['Pod']!({ securityContext: { seLinuxOptions: opts }, containers: [c({})] });
      assert.deepEqual(
        paths(findings('selinux-options', onPod)),
        fields.map((f) => `spec.securityContext.seLinuxOptions.${f}`),
      );
      const onInit = WORKLOADS['Pod']!(podWith('initContainers', c({ seLinuxOptions: opts })));
      assert.deepEqual(
        paths(findings('selinux-options', onInit)),
        fields.map((f) => `spec.initContainers[0].securityContext.seLinuxOptions.${f}`),
      );
    });
  }
});

describe('proc-mount', () => {
  const baseline = presetParams('pss-baseline', 'proc-mount');
  const restricted = presetParams('pss-restricted', 'proc-mount');
  const pod = (procMount: unknown, hostUsers?: boolean) =>
    WORKLOADS['StatefulSet']!({
      ...(hostUsers === undefined ? {} : { hostUsers }),
      containers: [c(procMount === undefined ? {} : { procMount })],
    });
  it('Default and unset pass; Unmasked fails at the container path', () => {
    assert.deepEqual(findings('proc-mount', pod('Default'), restricted), []);
    assert.deepEqual(findings('proc-mount', pod(undefined), restricted), []);
    assert.deepEqual(paths(findings('proc-mount', pod('Unmasked'), restricted)), [
      'spec.template.spec.containers[0].securityContext.procMount',
    ]);
  });
  it('baseline allows Unmasked in a user namespace (hostUsers: false); restricted does not', () => {
    assert.deepEqual(findings('proc-mount', pod('Unmasked', false), baseline), []);
    assert.equal(findings('proc-mount', pod('Unmasked', true), baseline).length, 1);
    assert.equal(findings('proc-mount', pod('Unmasked', false), restricted).length, 1);
  });
});

describe('sysctls', () => {
  const pod = (names: string[]) =>
    WORKLOADS['Pod']!({
      securityContext: { sysctls: names.map((name) => ({ name, value: '1' })) },
      containers: [c({})],
    });
  it('the safe set passes', () => {
    assert.deepEqual(
      findings(
        'sysctls',
        pod([
          'kernel.shm_rmid_forced',
          'net.ipv4.ip_local_port_range',
          'net.ipv4.ip_unprivileged_port_start',
          'net.ipv4.tcp_syncookies',
          'net.ipv4.ping_group_range',
          'net.ipv4.tcp_keepalive_time',
        ]),
      ),
      [],
    );
  });
  it('an unsafe sysctl fails at its index', () => {
    assert.deepEqual(paths(findings('sysctls', pod(['net.ipv4.tcp_syncookies', 'kernel.msgmax']))), [
      'spec.securityContext.sysctls[1].name',
    ]);
  });
  it('allowedSysctls replaces the safe set', () => {
    assert.deepEqual(findings('sysctls', pod(['kernel.msgmax']), { allowedSysctls: ['kernel.msgmax'] }), []);
  });
});

describe('windows-host-process', () => {
  it('pod level and each container list', () => {
    const hp = { windowsOptions: { hostProcess: true } };
    assert.deepEqual(
      paths(findings('windows-host-process', WORKLOADS['Pod']!({ securityContext: hp, containers: [c({})] }))),
      ['spec.securityContext.windowsOptions.hostProcess'],
    );
    for (const type of CONTAINER_TYPES) {
      const out = findings('windows-host-process', WORKLOADS['DaemonSet']!(podWith(type, c(hp))));
      assert.deepEqual(
        paths(out),
        [`spec.template.spec.${type}[${type === 'containers' ? 1 : 0}].securityContext.windowsOptions.hostProcess`],
        type,
      );
    }
    assert.deepEqual(
      findings(
        'windows-host-process',
        WORKLOADS['Pod']!({ containers: [c({ windowsOptions: { hostProcess: false } })] }),
      ),
      [],
    );
  });
});

describe('host-probes', () => {
  it('a host on any probe or lifecycle handler fails; an empty host passes', () => {
    const container = {
      name: 'x',
      image: 'i',
      livenessProbe: { httpGet: { host: '10.0.0.1', port: 80 } },
      readinessProbe: { tcpSocket: { host: '', port: 80 } },
      startupProbe: { tcpSocket: { host: 'metadata.internal', port: 80 } },
      lifecycle: {
        preStop: { httpGet: { host: 'example.com', port: 80 } },
        postStart: { exec: { command: ['true'] } },
      },
    };
    assert.deepEqual(paths(findings('host-probes', WORKLOADS['Job']!(podWith('initContainers', container)))), [
      'spec.template.spec.initContainers[0].livenessProbe.httpGet.host',
      'spec.template.spec.initContainers[0].startupProbe.tcpSocket.host',
      'spec.template.spec.initContainers[0].lifecycle.preStop.httpGet.host',
    ]);
  });
});

describe('host-path-volumes, volume-types, host-ports', () => {
  const restrictedVolumes = presetParams('pss-restricted', 'volume-types');
  it('every restricted volume type passes; others fail naming the type', () => {
    const ok = [
      'configMap',
      'csi',
      'downwardAPI',
      'emptyDir',
      'ephemeral',
      'persistentVolumeClaim',
      'projected',
      'secret',
    ].map((t, i) => ({ name: `v${i}`, [t]: {} }));
    assert.deepEqual(
      findings('volume-types', WORKLOADS['Pod']!({ containers: [c({})], volumes: ok }), restrictedVolumes),
      [],
    );
    const bad = ['awsElasticBlockStore', 'nfs', 'iscsi', 'gitRepo', 'cephfs'].map((t, i) => ({
      name: `b${i}`,
      [t]: {},
    }));
    assert.deepEqual(
      paths(findings('volume-types', WORKLOADS['Pod']!({ containers: [c({})], volumes: bad }), restrictedVolumes)),
      ['awsElasticBlockStore', 'nfs', 'iscsi', 'gitRepo', 'cephfs'].map((t, i) => `spec.volumes[${i}].${t}`),
    );
  });
  it('host ports in init and ephemeral containers count too', () => {
    for (const type of CONTAINER_TYPES) {
      const out = findings(
        'host-ports',
        WORKLOADS['Pod']!(
          podWith(type, { name: 'x', image: 'i', ports: [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }] }),
        ),
      );
      assert.equal(out.length, 1, type);
      assert.match(out[0]!.message, /host port 53/);
    }
  });
});

describe('Windows pods under the restricted preset', () => {
  it('allowPrivilegeEscalation, capabilities drop and seccomp are not asked of them; runAsNonRoot still is', () => {
    const windows = (podSc: Record<string, unknown>) =>
      WORKLOADS['Pod']!({
        os: { name: 'windows' },
        securityContext: podSc,
        containers: [{ name: 'w', image: 'mcr.microsoft.com/windows/nanoserver:ltsc2022' }],
      });
    for (const r of expandPreset('pss-restricted')) {
      const out = findings(r.id, windows({ runAsNonRoot: true }), r.params);
      assert.deepEqual(out, [], r.id);
    }
    assert.equal(findings('run-as-non-root', windows({}), presetParams('pss-restricted', 'run-as-non-root')).length, 1);
  });
});
