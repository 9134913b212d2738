// Each misconfiguration rule of the catalog as CEL checks, read off the engine's rule
// (libs/policy-engine src/rules/pod-security.ts, workload-hygiene.ts): the same fields,
// the same container-over-pod precedence, the same Windows exceptions, parameters inlined.
import type { RuleParams } from '@portcullis/policy-engine';
import { and, effective, fieldIs, globToRe2, intList, or, re2Literal, str, strList } from './cel';
import { imageAndNormalizedExpr } from './image';
import { NAMESPACE_EXPR, type TargetKind } from './targets';
import { MAX_SUBJECT_LENGTH } from '@portcullis/policy-engine';

export type ListName = 'containers' | 'initContainers' | 'ephemeralContainers';
export const LISTS: readonly ListName[] = ['containers', 'initContainers', 'ephemeralContainers'];
export const LIST_LABEL: Readonly<Record<ListName, string>> = {
  containers: 'container',
  initContainers: 'init container',
  ephemeralContainers: 'ephemeral container',
};

/** The pod spec and its securityContext's base, as the variables name them. */
export const S = 'variables.podSpec';

/** A check on each container of some lists: `violates` in terms of the container `c`. */
export interface ContainerCheck {
  readonly on: 'container';
  readonly lists: readonly ListName[];
  readonly violates: (c: string) => string;
  /** What is wrong and the fix, after the container's name. */
  readonly message: string;
}

/** A check on the object as a whole: its finding names no container (images = every image of the pod). */
export interface ObjectCheck {
  readonly on: 'object';
  readonly violates: string;
  readonly message: string;
}

/**
 * A check whose findings each name their own images (AppArmor annotations name a container
 * by annotation key): `expression(guard)` is the whole validation, `guard(images)` the
 * image-exemption test for one finding.
 */
export interface CustomCheck {
  readonly on: 'custom';
  readonly expression: (guard: (images: string) => string) => string;
  readonly message: string;
}

export type Check = ContainerCheck | ObjectCheck | CustomCheck;

export interface RuleCel {
  readonly targets: readonly TargetKind[];
  readonly checks: readonly Check[];
}

const ALL = LISTS;
const bool = (v: unknown): boolean => v === true;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const capability = (name: string): string => name.toUpperCase().replace(/^CAP_/, '');
const sc = (path: string) => `securityContext.${path}`;
const WINDOWS = 'variables.windows';

const SELINUX_TYPES = ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];
const PROFILE_OK = ['RuntimeDefault', 'Localhost'];
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** Volume sources of core/v1 Volume (Kubernetes 1.30-1.34): a typed Volume holds no other field. */
export const VOLUME_SOURCES = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'gitRepo',
  'glusterfs',
  'hostPath',
  'image',
  'iscsi',
  'nfs',
  'persistentVolumeClaim',
  'photonPersistentDisk',
  'portworxVolume',
  'projected',
  'quobyte',
  'rbd',
  'scaleIO',
  'secret',
  'storageos',
  'vsphereVolume',
];

type Ranges = ReadonlyArray<{ min: number; max: number }>;
const inRanges = (v: string, ranges: Ranges): string => or(ranges.map((r) => `(${v} >= ${r.min} && ${v} <= ${r.max})`));

const container = (lists: readonly ListName[], violates: (c: string) => string, message: string): ContainerCheck => ({
  on: 'container',
  lists,
  violates,
  message,
});
const object = (violates: string, message: string): ObjectCheck => ({ on: 'object', violates, message });

type Builder = (p: RuleParams) => RuleCel | { readonly unsupported: string };

const POD: readonly TargetKind[] = ['pod'];

const BUILDERS: Readonly<Record<string, Builder>> = {
  'privileged-container': () => ({
    targets: POD,
    checks: [
      container(
        ALL,
        (c) => fieldIs(c, sc('privileged'), (v) => `${v} == true`),
        'is privileged; set securityContext.privileged to false',
      ),
    ],
  }),

  'privilege-escalation': () => ({
    targets: POD,
    checks: [
      container(
        ALL,
        (c) => `(!${WINDOWS} && !${fieldIs(c, sc('allowPrivilegeEscalation'), (v) => `${v} == false`)})`,
        'does not set allowPrivilegeEscalation: false; set it explicitly',
      ),
    ],
  }),

  capabilities: (p) => {
    const drop = strings(p['requiredDrop']).map(capability);
    const allowed = [...new Set(strings(p['allowedAdd']).map(capability))];
    const checks: Check[] = [
      container(
        ALL,
        (c) => `(${fieldIs(c, sc('capabilities.add'), (v) => `!${v}.all(a, a in ${strList(allowed)})`)})`,
        `adds a capability that is not allowed (allowed: ${allowed.join(', ') || 'none'}); remove it`,
      ),
    ];
    if (drop.length > 0)
      checks.push(
        container(
          ALL,
          (c) =>
            `(!${WINDOWS} && !${fieldIs(c, sc('capabilities.drop'), (v) => `('ALL' in ${v} || ${strList(drop)}.all(d, d in ${v}))`)})`,
          `does not drop ${drop.join(', ')}; add them to securityContext.capabilities.drop`,
        ),
      );
    return { targets: POD, checks };
  },

  'run-as-non-root': (p) => {
    const requireFlag = bool(p['requireRunAsNonRoot']);
    const users = (p['allowedUserIds'] as Ranges | null) ?? [];
    const groups = (p['allowedGroupIds'] as Ranges | null) ?? [];
    const nonRoot = (c: string) => effective(c, S, sc('runAsNonRoot'), (v) => `${v} == true`);
    const checks: Check[] = [
      object(
        fieldIs(S, sc('runAsUser'), (v) => `${v} == 0`),
        'the pod sets runAsUser: 0 (root); use a non-zero user id',
      ),
      container(
        ALL,
        (c) => fieldIs(c, sc('runAsUser'), (v) => `${v} == 0`),
        'sets runAsUser: 0 (root); use a non-zero user id',
      ),
      requireFlag
        ? container(ALL, (c) => `!${nonRoot(c)}`, 'does not run with runAsNonRoot: true; set it on the pod')
        : container(
            ALL,
            (c) => `(!${nonRoot(c)} && !${effective(c, S, sc('runAsUser'), (v) => `${v} > 0`)})`,
            'may run as root; set runAsNonRoot: true or a non-zero runAsUser',
          ),
    ];
    if (users.length)
      checks.push(
        container(
          ALL,
          (c) => `!${effective(c, S, sc('runAsUser'), (v) => inRanges(v, users))}`,
          `runAsUser is not set or not within ${users.map((r) => `${r.min}-${r.max}`).join(', ')}; set it within them`,
        ),
      );
    if (groups.length) {
      const allowed = groups.map((r) => `${r.min}-${r.max}`).join(', ');
      checks.push(
        container(
          ALL,
          (c) => `!${effective(c, S, sc('runAsGroup'), (v) => inRanges(v, groups))}`,
          `runAsGroup is not set or not within the allowed group ids (${allowed})`,
        ),
        object(
          `!${fieldIs(S, sc('fsGroup'), (v) => inRanges(v, groups))}`,
          `fsGroup is not set or not within the allowed group ids (${allowed})`,
        ),
        object(
          fieldIs(S, sc('supplementalGroups'), (v) => `!${v}.all(g, ${inRanges('g', groups)})`),
          `a supplemental group is outside the allowed group ids (${allowed})`,
        ),
      );
    }
    return { targets: POD, checks };
  },

  'automount-service-account-token': () => ({
    targets: POD,
    checks: [
      object(
        `!${fieldIs(S, 'automountServiceAccountToken', (v) => `${v} == false`)}`,
        'the pod mounts a service account token automatically; set automountServiceAccountToken: false',
      ),
    ],
  }),

  'default-namespace': (p) => ({
    targets: ['pod', 'ingress'],
    checks: [
      object(
        `${NAMESPACE_EXPR} in ${strList(strings(p['blockedNamespaces']))}`,
        'the namespace is blocked; deploy it into a dedicated namespace',
      ),
    ],
  }),

  'host-namespaces': (p) => ({
    targets: POD,
    checks: (
      [
        ['hostPID', 'allowHostPID'],
        ['hostIPC', 'allowHostIPC'],
        ['hostNetwork', 'allowHostNetwork'],
      ] as const
    )
      .filter(([, param]) => p[param] !== true)
      .map(([field]) =>
        object(
          fieldIs(S, field, (v) => `${v} == true`),
          `the pod sets ${field}: true; remove it or set it to false`,
        ),
      ),
  }),

  'trusted-registries': (p) => {
    const patterns = strings(p['allowedImages']);
    // one RE2 for the list: a pattern without * is a prefix, with * an anchored glob (? is itself)
    const alternatives = patterns.map((pat) =>
      pat.includes('*') ? globToRe2(pat, false).slice('(?s)^'.length) : re2Literal(pat),
    );
    const trusted = (x: string) =>
      alternatives.length === 0
        ? 'false'
        : `${imageAndNormalizedExpr(x, 'T')}.exists(s, size(s) <= ${MAX_SUBJECT_LENGTH} && s.matches(${str(`(?s)^(?:${alternatives.join('|')})`)}))`;
    return {
      targets: POD,
      checks: [
        container(
          ALL,
          (c) => `(has(${c}.image) && ${c}.image != '' && !${trusted(`${c}.image`)})`,
          `uses an image that is not from a trusted registry (allowed: ${patterns.join(', ') || 'none configured'})`,
        ),
      ],
    };
  },

  'ingress-https': (p) => {
    const checks: Check[] = [];
    if (bool(p['requireTls']))
      checks.push(
        object(
          '!(has(object.spec) && has(object.spec.tls) && size(object.spec.tls) > 0)',
          'the Ingress serves plain HTTP; add spec.tls with a certificate secret',
        ),
      );
    if (bool(p['requireHttpDisabledAnnotation']))
      checks.push(
        object(
          "!(has(object.metadata.annotations) && 'kubernetes.io/ingress.allow-http' in object.metadata.annotations && object.metadata.annotations['kubernetes.io/ingress.allow-http'] == 'false')",
          'the Ingress allows plain HTTP; set annotation kubernetes.io/ingress.allow-http: "false"',
        ),
      );
    return { targets: ['ingress'], checks };
  },

  'read-only-root-filesystem': () => ({
    targets: POD,
    checks: [
      container(
        ALL,
        (c) => `(!${WINDOWS} && !${fieldIs(c, sc('readOnlyRootFilesystem'), (v) => `${v} == true`)})`,
        'has a writable root filesystem; set readOnlyRootFilesystem: true',
      ),
    ],
  }),

  'resource-limits': (p) => {
    const checks: Check[] = [];
    for (const [resource, required, max] of [
      ['cpu', bool(p['requireCpuLimit']), p['maxCpuLimit']],
      ['memory', bool(p['requireMemoryLimit']), p['maxMemoryLimit']],
    ] as const) {
      const maxText = max === null || max === undefined ? undefined : String(max);
      const has = (c: string) =>
        `(has(${c}.resources) && has(${c}.resources.limits) && ${str(resource)} in ${c}.resources.limits)`;
      const value = (c: string) => `${c}.resources.limits[${str(resource)}]`;
      // the API forbids resources on ephemeral containers: the engine skips them
      const lists: ListName[] = ['containers', 'initContainers'];
      if (required)
        checks.push(
          container(lists, (c) => `!${has(c)}`, `has no ${resource} limit; set resources.limits.${resource}`),
        );
      checks.push(
        container(
          lists,
          (c) =>
            `(${has(c)} && (!isQuantity(${value(c)})${maxText === undefined ? '' : ` || quantity(${value(c)}).compareTo(quantity(${str(maxText)})) > 0`}))`,
          maxText === undefined
            ? `has a ${resource} limit that is not a quantity`
            : `has a ${resource} limit above the maximum ${maxText} (or not a quantity); lower it`,
        ),
      );
    }
    return { targets: POD, checks };
  },

  'host-ports': (p) => {
    const allowed = ((p['allowedPorts'] as number[] | null) ?? []).filter((n) => Number.isInteger(n));
    return {
      targets: POD,
      checks: [
        container(
          ALL,
          (c) =>
            `(has(${c}.ports) && !${c}.ports.all(p, !has(p.hostPort) || p.hostPort == 0 || p.hostPort in ${intList(allowed)}))`,
          'binds a host port; remove hostPort and use a Service',
        ),
      ],
    };
  },

  'host-path-volumes': () => ({
    targets: POD,
    checks: [
      object(
        `(has(${S}.volumes) && ${S}.volumes.exists(v, has(v.hostPath)))`,
        'a volume mounts a hostPath; use emptyDir, configMap, secret or a PersistentVolumeClaim',
      ),
    ],
  }),

  'seccomp-profile': (p) => {
    const require = bool(p['requireProfile']);
    const type = sc('seccompProfile.type');
    return {
      targets: POD,
      checks: [
        object(
          fieldIs(S, type, (v) => `${v} == 'Unconfined'`),
          'the pod sets seccompProfile Unconfined; use RuntimeDefault',
        ),
        container(
          ALL,
          (c) =>
            or([
              fieldIs(c, type, (v) => `${v} == 'Unconfined'`),
              ...(require
                ? [`(!${WINDOWS} && !${effective(c, S, type, (v) => `${v} in ${strList(PROFILE_OK)}`)})`]
                : []),
            ]),
          require
            ? 'runs without a seccomp profile or with Unconfined; set securityContext.seccompProfile.type: RuntimeDefault'
            : 'sets seccompProfile Unconfined; use RuntimeDefault',
        ),
      ],
    };
  },

  'apparmor-profile': () => {
    const type = sc('appArmorProfile.type');
    const bad = (v: string) => `!(${v} in ${strList(PROFILE_OK)})`;
    const annotations = 'variables.podAnnotations';
    const named = (k: string) =>
      `(${LISTS.map((l) => `variables.${l}.filter(c, has(c.name) && c.name == ${k}.substring(${APPARMOR_ANNOTATION.length})).map(c, has(c.image) && c.image != '' ? [c.image] : [])`).join(' + ')})`;
    return {
      targets: POD,
      checks: [
        object(fieldIs(S, type, bad), 'the pod disables AppArmor; use RuntimeDefault or Localhost'),
        container(ALL, (c) => fieldIs(c, type, bad), 'disables AppArmor; use RuntimeDefault or Localhost'),
        {
          on: 'custom',
          expression: (guard) => {
            const bad = `${annotations}.all(k, !(k.startsWith(${str(APPARMOR_ANNOTATION)}) && ${annotations}[k] != '' && ${annotations}[k] != 'runtime/default' && !${annotations}[k].startsWith('localhost/'))`;
            if (guard('x') === 'false') return `${bad})`;
            // whether every image of the pod is exempted: evaluated once, not once per annotation
            return `[${guard('variables.allImages')}].exists(exemptAll, ${bad} || [${named('k')}].exists(n, size(n) > 0 ? ${guard('n[0]')} : exemptAll)))`;
          },
          message:
            'an AppArmor annotation names a profile other than runtime/default or localhost/<profile>; use one of those',
        },
      ],
    };
  },

  'selinux-options': () => {
    const opts = (base: string) =>
      or([
        fieldIs(base, 'seLinuxOptions.type', (v) => `!(${v} in ${strList(SELINUX_TYPES)})`),
        fieldIs(base, 'seLinuxOptions.user', (v) => `${v} != ''`),
        fieldIs(base, 'seLinuxOptions.role', (v) => `${v} != ''`),
      ]);
    return {
      targets: POD,
      checks: [
        object(
          `(has(${S}.securityContext) && ${opts(`${S}.securityContext`)})`,
          'the pod sets SELinux user or role, or a type outside the container_t family; remove them',
        ),
        container(
          ALL,
          (c) => `(has(${c}.securityContext) && ${opts(`${c}.securityContext`)})`,
          'sets SELinux user or role, or a type outside the container_t family; remove them',
        ),
      ],
    };
  },

  'proc-mount': (p) => {
    const skip = bool(p['allowUnmaskedWithUserNamespaces']) ? fieldIs(S, 'hostUsers', (v) => `${v} == false`) : 'false';
    return {
      targets: POD,
      checks: [
        container(
          ALL,
          (c) => and([`!${skip}`, fieldIs(c, sc('procMount'), (v) => `${v} != 'Default'`)]),
          'uses a procMount other than Default; use Default',
        ),
      ],
    };
  },

  sysctls: (p) => ({
    targets: POD,
    checks: [
      object(
        fieldIs(
          S,
          sc('sysctls'),
          (v) => `!${v}.all(s, has(s.name) && s.name in ${strList(strings(p['allowedSysctls']))})`,
        ),
        'the pod sets a sysctl that is not a safe sysctl; remove it',
      ),
    ],
  }),

  'volume-types': (p) => {
    const allowed = new Set(strings(p['allowedTypes']));
    const forbidden = VOLUME_SOURCES.filter((t) => !allowed.has(t));
    return {
      targets: POD,
      checks: [
        object(
          forbidden.length === 0
            ? 'false'
            : `(has(${S}.volumes) && ${S}.volumes.exists(v, ${or(forbidden.map((t) => `has(v.${t})`))}))`,
          `a volume is of a type that is not allowed; use one of ${[...allowed].join(', ') || 'none'}`,
        ),
      ],
    };
  },

  'windows-host-process': () => {
    const hp = sc('windowsOptions.hostProcess');
    return {
      targets: POD,
      checks: [
        object(
          fieldIs(S, hp, (v) => `${v} == true`),
          'the pod runs as a Windows HostProcess; remove windowsOptions.hostProcess',
        ),
        container(
          ALL,
          (c) => fieldIs(c, hp, (v) => `${v} == true`),
          'runs as a Windows HostProcess; remove windowsOptions.hostProcess',
        ),
      ],
    };
  },

  'host-probes': () => ({
    targets: POD,
    checks: [
      container(
        ALL,
        (c) =>
          or(
            ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle.postStart', 'lifecycle.preStop'].flatMap(
              (h) => ['httpGet', 'tcpSocket'].map((k) => fieldIs(c, `${h}.${k}.host`, (v) => `${v} != ''`)),
            ),
          ),
        'has a probe or lifecycle hook that targets another host; remove the host field',
      ),
    ],
  }),
};

/** The rule as CEL checks, or why it cannot be expressed. Unknown ids and vulnerability rules have no builder. */
export function ruleCel(id: string, params: RuleParams): RuleCel | { readonly unsupported: string } | undefined {
  return BUILDERS[id]?.(params);
}

export const COMPILABLE_RULES: readonly string[] = Object.keys(BUILDERS);
