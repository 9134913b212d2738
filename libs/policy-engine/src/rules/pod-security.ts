import type { RuleFinding } from '../types';
import type { ContainerView } from '../workload';
import { asStrings, capability, get, podRule, shown } from './rule';

/**
 * The Pod Security Standards checks, each as Kubernetes' Pod Security Admission
 * applies it (v1.37): container-level settings override pod-level ones where the
 * API defines both; Windows pods skip the Linux-only restricted checks.
 */
const BASELINE_CAPS = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];
export const PSS_BASELINE_ADD = BASELINE_CAPS;
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
];
export const RESTRICTED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
  'image',
];
const SELINUX_TYPES = ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];

const where = (c: ContainerView) =>
  `${c.type === 'containers' ? 'container' : c.type === 'initContainers' ? 'init container' : 'ephemeral container'} "${c.name}"`;
const finding = (rule: string, path: string, message: string, container?: ContainerView): RuleFinding => ({
  rule,
  path,
  message,
  ...(container ? { container: container.name } : {}),
});

export const privilegedContainer = podRule(
  {
    id: 'privileged-container',
    title: 'No privileged containers',
    description: 'Privileged containers disable most isolation and can take over the node.',
    category: 'privileges',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation: 'Remove securityContext.privileged or set it to false.',
  },
  () => (pod, _ctx, out) => {
    for (const c of pod.containers) {
      if (c.sc['privileged'] === true)
        out.push(
          finding(
            'privileged-container',
            `${c.path}.securityContext.privileged`,
            `${where(c)} is privileged; set securityContext.privileged to false`,
            c,
          ),
        );
    }
  },
);

export const privilegeEscalation = podRule(
  {
    id: 'privilege-escalation',
    title: 'Privilege escalation disabled',
    description: 'allowPrivilegeEscalation must be explicitly false so setuid binaries cannot gain privileges.',
    category: 'privileges',
    pssLevels: ['restricted'],
    defaultEnabled: true,
    remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
  },
  () => (pod, _ctx, out) => {
    if (pod.windows) return;
    for (const c of pod.containers) {
      if (c.sc['allowPrivilegeEscalation'] !== false) {
        out.push(
          finding(
            'privilege-escalation',
            `${c.path}.securityContext.allowPrivilegeEscalation`,
            `${where(c)} does not set allowPrivilegeEscalation: false; set it explicitly`,
            c,
          ),
        );
      }
    }
  },
);

export const capabilities = podRule(
  {
    id: 'capabilities',
    title: 'Linux capabilities dropped and limited',
    description: 'Containers drop the required capabilities and add only allowed ones.',
    category: 'privileges',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    parameters: {
      requiredDrop: {
        type: 'array',
        items: { type: 'string', format: 'capability' },
        maxItems: 64,
        default: ['ALL'],
        description: 'Capabilities every container must drop (ALL covers all).',
      },
      allowedAdd: {
        type: 'array',
        items: { type: 'string', format: 'capability' },
        maxItems: 64,
        default: ['NET_BIND_SERVICE'],
        description: 'Capabilities a container may add.',
      },
    },
    remediation:
      'Set securityContext.capabilities.drop: ["ALL"] and add back only what the process needs, e.g. NET_BIND_SERVICE.',
  },
  (p) => {
    // parameters may name capabilities either way (net_bind_service, CAP_NET_BIND_SERVICE);
    // the pod spec must use the canonical name, as Pod Security Admission requires
    const drop = asStrings(p['requiredDrop']).map(capability);
    const allowed = new Set(asStrings(p['allowedAdd']).map(capability));
    return (pod, _ctx, out) => {
      for (const c of pod.containers) {
        const caps = get(c.sc, 'capabilities');
        const added = asStrings(get(caps, 'add'));
        added.forEach((a, i) => {
          if (allowed.has(a)) return;
          const canonical = capability(a);
          const hint = allowed.has(canonical) ? ` (write it as ${canonical})` : '';
          out.push(
            finding(
              'capabilities',
              `${c.path}.securityContext.capabilities.add[${i}]`,
              `${where(c)} adds capability ${a}, which is not allowed${hint} (allowed: ${[...allowed].join(', ') || 'none'}); remove it`,
              c,
            ),
          );
        });
        if (pod.windows || drop.length === 0) continue;
        const dropped = new Set(asStrings(get(caps, 'drop')));
        const missing = dropped.has('ALL') ? [] : drop.filter((d) => !dropped.has(d));
        if (missing.length) {
          out.push(
            finding(
              'capabilities',
              `${c.path}.securityContext.capabilities.drop`,
              `${where(c)} does not drop ${missing.join(', ')}; add them to securityContext.capabilities.drop`,
              c,
            ),
          );
        }
      }
    };
  },
);

export const hostNamespaces = podRule(
  {
    id: 'host-namespaces',
    title: 'No host namespaces',
    description: "Pods must not share the node's PID, IPC or network namespace.",
    category: 'host-access',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    parameters: {
      allowHostPID: { type: 'boolean', default: false },
      allowHostIPC: { type: 'boolean', default: false },
      allowHostNetwork: { type: 'boolean', default: false },
    },
    remediation: 'Remove hostPID, hostIPC and hostNetwork from the pod spec (or set them to false).',
  },
  (p) => (pod, _ctx, out) => {
    for (const [field, param] of [
      ['hostPID', 'allowHostPID'],
      ['hostIPC', 'allowHostIPC'],
      ['hostNetwork', 'allowHostNetwork'],
    ] as const) {
      if (pod.pod[field] === true && p[param] !== true)
        out.push(
          finding(
            'host-namespaces',
            `${pod.podPath}.${field}`,
            `the pod sets ${field}: true; remove it or set it to false`,
          ),
        );
    }
  },
);

export const hostPathVolumes = podRule(
  {
    id: 'host-path-volumes',
    title: 'No hostPath volumes',
    description: "hostPath volumes expose the node's filesystem to the pod.",
    category: 'host-access',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation: 'Replace hostPath volumes with emptyDir, configMap, secret or a PersistentVolumeClaim.',
  },
  () => (pod, _ctx, out) => {
    const volumes = pod.pod['volumes'];
    if (!Array.isArray(volumes)) return;
    volumes.forEach((v, i) => {
      if (get(v, 'hostPath') !== undefined && get(v, 'hostPath') !== null) {
        out.push(
          finding(
            'host-path-volumes',
            `${pod.podPath}.volumes[${i}].hostPath`,
            `volume "${shown(get(v, 'name') ?? i)}" mounts a hostPath; use emptyDir, configMap, secret or a PersistentVolumeClaim`,
          ),
        );
      }
    });
  },
);

export const hostPorts = podRule(
  {
    id: 'host-ports',
    title: 'No host ports',
    description: "Containers must not bind ports on the node's network.",
    category: 'host-access',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    parameters: {
      allowedPorts: {
        type: 'array',
        items: { type: 'integer', minimum: 1, maximum: 65535 },
        maxItems: 1000,
        default: [],
        description: 'Host ports that may be used.',
      },
    },
    remediation: 'Remove ports[].hostPort and expose the container through a Service.',
  },
  (p) => {
    const allowed = new Set((p['allowedPorts'] as number[] | null) ?? []);
    return (pod, _ctx, out) => {
      for (const c of pod.containers) {
        const ports = c.spec['ports'];
        if (!Array.isArray(ports)) continue;
        ports.forEach((port, i) => {
          const hp = get(port, 'hostPort');
          if (typeof hp === 'number' && hp !== 0 && !allowed.has(hp))
            out.push(
              finding(
                'host-ports',
                `${c.path}.ports[${i}].hostPort`,
                `${where(c)} binds host port ${hp}; remove hostPort and use a Service`,
                c,
              ),
            );
        });
      }
    };
  },
);

const seccompType = (sc: unknown): unknown => get(get(sc, 'seccompProfile'), 'type');

export const seccompProfile = podRule(
  {
    id: 'seccomp-profile',
    title: 'Seccomp profile set',
    description:
      'Seccomp must not be Unconfined; with requireProfile every container runs RuntimeDefault or a Localhost profile.',
    category: 'kernel',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: false,
    parameters: {
      requireProfile: {
        type: 'boolean',
        default: true,
        description: 'Require RuntimeDefault or Localhost (restricted); false only forbids Unconfined (baseline).',
      },
    },
    remediation: 'Set securityContext.seccompProfile.type: RuntimeDefault on the pod.',
  },
  (p) => {
    const require = p['requireProfile'] === true;
    return (pod, _ctx, out) => {
      const podType = seccompType(pod.podSc);
      if (podType === 'Unconfined')
        out.push(
          finding(
            'seccomp-profile',
            `${pod.podPath}.securityContext.seccompProfile.type`,
            'the pod sets seccompProfile Unconfined; use RuntimeDefault',
          ),
        );
      for (const c of pod.containers) {
        const own = seccompType(c.sc);
        if (own === 'Unconfined') {
          out.push(
            finding(
              'seccomp-profile',
              `${c.path}.securityContext.seccompProfile.type`,
              `${where(c)} sets seccompProfile Unconfined; use RuntimeDefault`,
              c,
            ),
          );
          continue;
        }
        if (!require || pod.windows) continue;
        const effective = own ?? podType;
        if (effective !== 'RuntimeDefault' && effective !== 'Localhost') {
          out.push(
            finding(
              'seccomp-profile',
              `${pod.podPath}.securityContext.seccompProfile.type`,
              `${where(c)} runs without a seccomp profile; set securityContext.seccompProfile.type: RuntimeDefault on the pod or the container`,
              c,
            ),
          );
        }
      }
    };
  },
);

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

export const apparmorProfile = podRule(
  {
    id: 'apparmor-profile',
    title: 'AppArmor not disabled',
    description: 'AppArmor profiles may be RuntimeDefault or Localhost, never Unconfined.',
    category: 'kernel',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation:
      'Remove the Unconfined AppArmor profile (securityContext.appArmorProfile or the legacy annotation); RuntimeDefault applies by default.',
  },
  () => (pod, _ctx, out) => {
    const bad = (t: unknown) => t !== undefined && t !== null && t !== 'RuntimeDefault' && t !== 'Localhost';
    if (bad(get(get(pod.podSc, 'appArmorProfile'), 'type')))
      out.push(
        finding(
          'apparmor-profile',
          `${pod.podPath}.securityContext.appArmorProfile.type`,
          'the pod disables AppArmor; use RuntimeDefault or Localhost',
        ),
      );
    for (const c of pod.containers) {
      if (bad(get(get(c.sc, 'appArmorProfile'), 'type')))
        out.push(
          finding(
            'apparmor-profile',
            `${c.path}.securityContext.appArmorProfile.type`,
            `${where(c)} disables AppArmor; use RuntimeDefault or Localhost`,
            c,
          ),
        );
    }
    for (const [key, value] of Object.entries(pod.podAnnotations)) {
      if (!key.startsWith(APPARMOR_ANNOTATION)) continue;
      // as Pod Security Admission: empty (unset), runtime/default and localhost/<profile> are fine
      if (value !== '' && value !== 'runtime/default' && !value.startsWith('localhost/')) {
        const name = key.slice(APPARMOR_ANNOTATION.length);
        out.push({
          rule: 'apparmor-profile',
          container: name,
          path: `${pod.podMetaPath}.annotations["${key}"]`,
          message: `container "${name}" has AppArmor profile "${value}"; use runtime/default or localhost/<profile>`,
        });
      }
    }
  },
);

export const selinuxOptions = podRule(
  {
    id: 'selinux-options',
    title: 'SELinux options restricted',
    description: 'SELinux type is one of the container types; user and role are not set.',
    category: 'kernel',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation: 'Remove seLinuxOptions.user and .role; use a container_t family type or none.',
  },
  () => (pod, _ctx, out) => {
    const inspect = (opts: unknown, path: string, c?: ContainerView) => {
      if (opts === undefined || opts === null) return;
      const type = get(opts, 'type');
      if (type !== undefined && !(typeof type === 'string' && SELINUX_TYPES.includes(type)))
        out.push(
          finding(
            'selinux-options',
            `${path}.type`,
            `${c ? where(c) : 'the pod'} uses SELinux type "${shown(type)}"; use container_t, container_init_t, container_kvm_t or container_engine_t`,
            c,
          ),
        );
      for (const f of ['user', 'role'] as const) {
        const v = get(opts, f);
        if (v !== undefined && v !== '')
          out.push(
            finding('selinux-options', `${path}.${f}`, `${c ? where(c) : 'the pod'} sets SELinux ${f}; remove it`, c),
          );
      }
    };
    inspect(get(pod.podSc, 'seLinuxOptions'), `${pod.podPath}.securityContext.seLinuxOptions`);
    for (const c of pod.containers) inspect(get(c.sc, 'seLinuxOptions'), `${c.path}.securityContext.seLinuxOptions`, c);
  },
);

export const procMount = podRule(
  {
    id: 'proc-mount',
    title: 'Default /proc mount',
    description: 'Containers use the default masked /proc mount.',
    category: 'kernel',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    parameters: {
      allowUnmaskedWithUserNamespaces: {
        type: 'boolean',
        default: false,
        description: 'Allow Unmasked when the pod runs in a user namespace (hostUsers: false), as baseline does.',
      },
    },
    remediation: 'Remove securityContext.procMount or set it to Default.',
  },
  (p) => (pod, _ctx, out) => {
    if (p['allowUnmaskedWithUserNamespaces'] === true && pod.pod['hostUsers'] === false) return;
    for (const c of pod.containers) {
      const pm = c.sc['procMount'];
      if (pm !== undefined && pm !== null && pm !== 'Default')
        out.push(
          finding(
            'proc-mount',
            `${c.path}.securityContext.procMount`,
            `${where(c)} uses procMount ${shown(pm)}; use Default`,
            c,
          ),
        );
    }
  },
);

export const sysctls = podRule(
  {
    id: 'sysctls',
    title: 'Only safe sysctls',
    description: 'Pods may set only the namespaced sysctls Kubernetes deems safe.',
    category: 'kernel',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    parameters: { allowedSysctls: { type: 'array', items: { type: 'string' }, maxItems: 200, default: SAFE_SYSCTLS } },
    remediation: 'Remove unsafe entries from securityContext.sysctls.',
  },
  (p) => {
    const allowed = new Set(asStrings(p['allowedSysctls']));
    return (pod, _ctx, out) => {
      const list = get(pod.podSc, 'sysctls');
      if (!Array.isArray(list)) return;
      list.forEach((s, i) => {
        const name = get(s, 'name');
        if (typeof name !== 'string' || !allowed.has(name))
          out.push(
            finding(
              'sysctls',
              `${pod.podPath}.securityContext.sysctls[${i}].name`,
              `sysctl ${shown(name)} is not a safe sysctl; remove it`,
            ),
          );
      });
    };
  },
);

export const volumeTypes = podRule(
  {
    id: 'volume-types',
    title: 'Only allowed volume types',
    description: 'Pods use only volume types that do not reach node or external storage directly.',
    category: 'filesystem',
    pssLevels: ['restricted'],
    defaultEnabled: false,
    parameters: {
      allowedTypes: { type: 'array', items: { type: 'string' }, maxItems: 50, default: RESTRICTED_VOLUMES },
    },
    remediation:
      'Use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret or image volumes.',
  },
  (p) => {
    const allowed = new Set(asStrings(p['allowedTypes']));
    return (pod, _ctx, out) => {
      const volumes = pod.pod['volumes'];
      if (!Array.isArray(volumes)) return;
      volumes.forEach((v, i) => {
        if (typeof v !== 'object' || v === null) return;
        for (const key of Object.keys(v)) {
          if (key === 'name' || (v as Record<string, unknown>)[key] === null || allowed.has(key)) continue;
          out.push(
            finding(
              'volume-types',
              `${pod.podPath}.volumes[${i}].${key}`,
              `volume "${shown(get(v, 'name') ?? i)}" is of type ${key}, which is not allowed; use a PersistentVolumeClaim or one of ${[...allowed].join(', ')}`,
            ),
          );
        }
      });
    };
  },
);

export const windowsHostProcess = podRule(
  {
    id: 'windows-host-process',
    title: 'No Windows HostProcess',
    description: 'Windows HostProcess containers have full access to the Windows node.',
    category: 'host-access',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation: 'Remove windowsOptions.hostProcess.',
  },
  () => (pod, _ctx, out) => {
    if (get(get(pod.podSc, 'windowsOptions'), 'hostProcess') === true)
      out.push(
        finding(
          'windows-host-process',
          `${pod.podPath}.securityContext.windowsOptions.hostProcess`,
          'the pod runs as a Windows HostProcess; remove windowsOptions.hostProcess',
        ),
      );
    for (const c of pod.containers) {
      if (get(get(c.sc, 'windowsOptions'), 'hostProcess') === true)
        out.push(
          finding(
            'windows-host-process',
            `${c.path}.securityContext.windowsOptions.hostProcess`,
            `${where(c)} runs as a Windows HostProcess; remove windowsOptions.hostProcess`,
            c,
          ),
        );
    }
  },
);

export const hostProbes = podRule(
  {
    id: 'host-probes',
    title: 'Probes and hooks stay in the pod',
    description: 'Probes and lifecycle hooks must not target another host (the host field).',
    category: 'network',
    pssLevels: ['baseline', 'restricted'],
    defaultEnabled: true,
    remediation: 'Remove the host field from httpGet/tcpSocket probes and lifecycle handlers.',
  },
  () => (pod, _ctx, out) => {
    for (const c of pod.containers) {
      const handlers: Array<[string, unknown]> = [
        ['livenessProbe', c.spec['livenessProbe']],
        ['readinessProbe', c.spec['readinessProbe']],
        ['startupProbe', c.spec['startupProbe']],
        ['lifecycle.postStart', get(c.spec['lifecycle'], 'postStart')],
        ['lifecycle.preStop', get(c.spec['lifecycle'], 'preStop')],
      ];
      for (const [name, handler] of handlers) {
        for (const kind of ['httpGet', 'tcpSocket'] as const) {
          const host = get(get(handler, kind), 'host');
          if (typeof host === 'string' && host !== '')
            out.push(
              finding(
                'host-probes',
                `${c.path}.${name}.${kind}.host`,
                `${where(c)} ${name} targets host "${host}"; remove the host field`,
                c,
              ),
            );
        }
      }
    }
  },
);
