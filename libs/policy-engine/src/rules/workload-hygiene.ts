import { normalizeImage } from '../image';
import { MAX_PATTERN_LENGTH, compileGlob, compileMatcher, type Matcher } from '../policy/pattern-matcher';
import { parseQuantity } from '../quantity';
import type { MatchCounter, ParamError, RuleFinding, RuleParams } from '../types';
import type { ContainerView } from '../workload';
import { asStrings, definition, get, podRule, shown, type RuleImpl } from './rule';

const where = (c: ContainerView) =>
  `${c.type === 'containers' ? 'container' : c.type === 'initContainers' ? 'init container' : 'ephemeral container'} "${c.name}"`;

const RANGE = {
  type: 'object',
  additionalProperties: false,
  required: ['min', 'max'],
  properties: { min: { type: 'integer', minimum: 0 }, max: { type: 'integer', minimum: 0 } },
} as const;
type Range = { min: number; max: number };

function rangeErrors(rule: string, param: string, ranges: unknown): ParamError[] {
  return ((ranges as Range[] | null) ?? []).flatMap((r, i) =>
    r.min > r.max
      ? [
          {
            rule,
            param: `${param}[${i}]`,
            message: `rule "${rule}": parameter "${param}[${i}]": min ${r.min} is greater than max ${r.max}`,
          },
        ]
      : [],
  );
}

const inRanges = (v: number, ranges: readonly Range[]) => ranges.some((r) => v >= r.min && v <= r.max);

export const resourceLimits = podRule(
  {
    id: 'resource-limits',
    title: 'CPU and memory limits',
    description: 'Every container sets CPU and memory limits, not above the configured maxima.',
    category: 'resources',
    defaultEnabled: true,
    parameters: {
      requireCpuLimit: { type: 'boolean', default: true },
      requireMemoryLimit: { type: 'boolean', default: true },
      maxCpuLimit: {
        type: ['string', 'number', 'null'],
        format: 'quantity',
        default: null,
        description: 'Highest CPU limit allowed, e.g. "2" or "1500m".',
      },
      maxMemoryLimit: {
        type: ['string', 'number', 'null'],
        format: 'quantity',
        default: null,
        description: 'Highest memory limit allowed, e.g. "4Gi".',
      },
    },
    remediation: 'Set resources.limits.cpu and resources.limits.memory on every container.',
  },
  (p) => {
    const maxCpu = p['maxCpuLimit'] === null ? undefined : parseQuantity(p['maxCpuLimit']);
    const maxMem = p['maxMemoryLimit'] === null ? undefined : parseQuantity(p['maxMemoryLimit']);
    const checks = [
      { resource: 'cpu', required: p['requireCpuLimit'] === true, max: maxCpu, maxText: String(p['maxCpuLimit']) },
      {
        resource: 'memory',
        required: p['requireMemoryLimit'] === true,
        max: maxMem,
        maxText: String(p['maxMemoryLimit']),
      },
    ];
    return (pod, _ctx, out) => {
      for (const c of pod.containers) {
        if (c.type === 'ephemeralContainers') continue; // the API forbids resources on ephemeral containers
        const limits = get(c.spec['resources'], 'limits');
        for (const chk of checks) {
          const raw = get(limits, chk.resource);
          const path = `${c.path}.resources.limits.${chk.resource}`;
          if (raw === undefined || raw === null) {
            if (chk.required)
              out.push({
                rule: 'resource-limits',
                container: c.name,
                path,
                message: `${where(c)} has no ${chk.resource} limit; set resources.limits.${chk.resource}`,
              });
            continue;
          }
          const value = parseQuantity(raw);
          if (value === undefined) {
            out.push({
              rule: 'resource-limits',
              container: c.name,
              path,
              message: `${where(c)} ${chk.resource} limit ${typeof raw === 'string' ? JSON.stringify(raw) : shown(raw)} is not a quantity`,
            });
          } else if (chk.max !== undefined && value > chk.max) {
            out.push({
              rule: 'resource-limits',
              container: c.name,
              path,
              message: `${where(c)} ${chk.resource} limit ${shown(raw)} is above the maximum ${chk.maxText}; lower it`,
            });
          }
        }
      }
    };
  },
  (p: RuleParams) =>
    (['maxCpuLimit', 'maxMemoryLimit'] as const).flatMap((param) => {
      const q = p[param] === null ? undefined : parseQuantity(p[param]);
      return q !== undefined && q <= 0
        ? [
            {
              rule: 'resource-limits',
              param,
              message: `rule "resource-limits": parameter "${param}": ${JSON.stringify(p[param])} must be greater than zero`,
            },
          ]
        : [];
    }),
);

export const runAsNonRoot = podRule(
  {
    id: 'run-as-non-root',
    title: 'Run as non-root',
    description:
      'Every container runs as a non-root user: runAsNonRoot: true or a non-zero runAsUser; runAsUser 0 always fails; optional allowed user and group id ranges.',
    category: 'privileges',
    pssLevels: ['restricted'],
    defaultEnabled: true,
    parameters: {
      requireRunAsNonRoot: {
        type: 'boolean',
        default: false,
        description: 'Require runAsNonRoot: true itself, as PSS restricted does.',
      },
      allowedUserIds: {
        type: 'array',
        items: RANGE as never,
        maxItems: 50,
        default: [],
        description: '[] = any non-zero user id.',
      },
      allowedGroupIds: {
        type: 'array',
        items: RANGE as never,
        maxItems: 50,
        default: [],
        description: 'Ranges for runAsGroup, fsGroup and supplementalGroups; [] = any.',
      },
    },
    remediation:
      'Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod, and build the image with a non-root USER.',
  },
  (p) => {
    const requireFlag = p['requireRunAsNonRoot'] === true;
    const users = (p['allowedUserIds'] as Range[] | null) ?? [];
    const groups = (p['allowedGroupIds'] as Range[] | null) ?? [];
    return (pod, _ctx, out) => {
      const push = (path: string, message: string, c?: ContainerView) =>
        out.push({ rule: 'run-as-non-root', path, message, ...(c ? { container: c.name } : {}) } satisfies RuleFinding);
      const scPath = `${pod.podPath}.securityContext`;
      if (pod.podSc['runAsUser'] === 0)
        push(`${scPath}.runAsUser`, 'the pod sets runAsUser: 0 (root); use a non-zero user id');
      for (const c of pod.containers) {
        const user = c.sc['runAsUser'] ?? pod.podSc['runAsUser'];
        const nonRoot = c.sc['runAsNonRoot'] ?? pod.podSc['runAsNonRoot'];
        if (c.sc['runAsUser'] === 0)
          push(
            `${c.path}.securityContext.runAsUser`,
            `${where(c)} sets runAsUser: 0 (root); use a non-zero user id`,
            c,
          );
        if (requireFlag) {
          if (nonRoot !== true)
            push(
              `${c.sc['runAsNonRoot'] === false ? c.path : pod.podPath}.securityContext.runAsNonRoot`,
              `${where(c)} does not run with runAsNonRoot: true; set it on the pod`,
              c,
            );
        } else if (nonRoot !== true && !(typeof user === 'number' && user > 0)) {
          push(
            `${scPath}.runAsNonRoot`,
            `${where(c)} may run as root; set runAsNonRoot: true or a non-zero runAsUser`,
            c,
          );
        }
        if (users.length && (typeof user !== 'number' || !inRanges(user, users)))
          push(
            `${scPath}.runAsUser`,
            `${where(c)} runAsUser ${user === undefined ? 'is not set' : shown(user)}; it must be set and within ${users.map((r) => `${r.min}-${r.max}`).join(', ')}`,
            c,
          );
        if (groups.length) {
          const group = c.sc['runAsGroup'] ?? pod.podSc['runAsGroup'];
          if (typeof group !== 'number' || !inRanges(group, groups))
            push(
              `${scPath}.runAsGroup`,
              `${where(c)} runAsGroup ${group === undefined ? 'is not set' : shown(group)}; it must be set and within the allowed group ids`,
              c,
            );
        }
      }
      if (groups.length) {
        const fsGroup = pod.podSc['fsGroup'];
        if (typeof fsGroup !== 'number' || !inRanges(fsGroup, groups))
          push(
            `${scPath}.fsGroup`,
            `fsGroup ${fsGroup === undefined ? 'is not set' : shown(fsGroup)}; it must be set and within the allowed group ids`,
          );
        const supplemental = pod.podSc['supplementalGroups'];
        if (Array.isArray(supplemental)) {
          supplemental.forEach((g, i) => {
            if (typeof g !== 'number' || !inRanges(g, groups))
              push(
                `${scPath}.supplementalGroups[${i}]`,
                `supplemental group ${shown(g)} is outside the allowed group ids`,
              );
          });
        }
      }
    };
  },
  (p: RuleParams) => [
    ...rangeErrors('run-as-non-root', 'allowedUserIds', p['allowedUserIds']),
    ...rangeErrors('run-as-non-root', 'allowedGroupIds', p['allowedGroupIds']),
  ],
);

export const automountServiceAccountToken = podRule(
  {
    id: 'automount-service-account-token',
    title: 'No automounted service account token',
    description: 'Pods opt out of the automatically mounted API token unless they call the Kubernetes API.',
    category: 'privileges',
    defaultEnabled: false,
    remediation: 'Set automountServiceAccountToken: false on the pod spec (or mount a projected token where needed).',
  },
  () => (pod, _ctx, out) => {
    if (pod.pod['automountServiceAccountToken'] !== false)
      out.push({
        rule: 'automount-service-account-token',
        path: `${pod.podPath}.automountServiceAccountToken`,
        message: 'the pod mounts a service account token automatically; set automountServiceAccountToken: false',
      });
  },
);

export const readOnlyRootFilesystem = podRule(
  {
    id: 'read-only-root-filesystem',
    title: 'Read-only root filesystem',
    description: 'Containers run with a read-only root filesystem.',
    category: 'filesystem',
    defaultEnabled: true,
    remediation:
      'Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the process writes.',
  },
  () => (pod, _ctx, out) => {
    if (pod.windows) return;
    for (const c of pod.containers) {
      if (c.sc['readOnlyRootFilesystem'] !== true)
        out.push({
          rule: 'read-only-root-filesystem',
          container: c.name,
          path: `${c.path}.securityContext.readOnlyRootFilesystem`,
          message: `${where(c)} has a writable root filesystem; set readOnlyRootFilesystem: true`,
        });
    }
  },
);

const VERDICT_CACHE_SIZE = 4096;

/** An allowedImages entry: a prefix, or with `*` an anchored glob in which `?` is itself (image references have no `?`). */
function imagePattern(pattern: string): Matcher {
  return pattern.includes('*') ? compileGlob(pattern, { questionMark: false }) : compileMatcher('PREFIX', pattern);
}

export const trustedRegistries = podRule(
  {
    id: 'trusted-registries',
    title: 'Images from trusted registries',
    description:
      'Every image matches an allowed pattern (a prefix, or a glob with *), as written or normalised (nginx = docker.io/library/nginx:latest).',
    category: 'images',
    defaultEnabled: false,
    parameters: {
      allowedImages: {
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: MAX_PATTERN_LENGTH },
        maxItems: 500,
        default: [],
      },
    },
    remediation: 'Pull the image from an allowed registry (mirror it there), or add its registry to allowedImages.',
  },
  (p) => {
    const patterns = asStrings(p['allowedImages']);
    const matchers = patterns.map(imagePattern);
    // clusters run few distinct images, so each verdict is kept (bounded: a flood of new names only resets it)
    const verdicts = new Map<string, boolean>();
    const trusted = (image: string, counter: MatchCounter | undefined): boolean => {
      let ok = verdicts.get(image);
      if (ok === undefined) {
        const normalized = normalizeImage(image)?.normalized;
        ok = matchers.some((m) => m(image, counter) || (normalized !== undefined && m(normalized, counter)));
        if (verdicts.size >= VERDICT_CACHE_SIZE) verdicts.clear();
        verdicts.set(image, ok);
      }
      return ok;
    };
    return (pod, ctx, out) => {
      for (const c of pod.containers) {
        if (c.image === undefined || trusted(c.image, ctx.matchSteps)) continue;
        out.push({
          rule: 'trusted-registries',
          container: c.name,
          image: c.image,
          path: `${c.path}.image`,
          message: `${where(c)} image ${c.image} is not from a trusted registry (allowed: ${patterns.join(', ') || 'none configured'})`,
        });
      }
    };
  },
);

export const defaultNamespace: RuleImpl = {
  definition: definition({
    id: 'default-namespace',
    title: 'Not in a blocked namespace',
    description: 'Namespaced objects are not created in a blocked namespace such as default.',
    category: 'namespaces',
    defaultEnabled: true,
    parameters: {
      blockedNamespaces: {
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: 63 },
        maxItems: 100,
        default: ['default'],
      },
    },
    remediation: 'Deploy into a dedicated namespace.',
  }),
  compile(p) {
    const blocked = new Set(asStrings(p['blockedNamespaces']));
    return (t, _ctx, out) => {
      const ns = t.ref.namespace;
      if (ns !== undefined && blocked.has(ns))
        out.push({
          rule: 'default-namespace',
          path: 'metadata.namespace',
          message: `${t.ref.kind} ${t.ref.name} is in namespace "${ns}", which is blocked; deploy it into a dedicated namespace`,
        });
    };
  },
};

export const ingressHttps: RuleImpl = {
  definition: definition({
    id: 'ingress-https',
    title: 'Ingress serves HTTPS',
    description: 'Ingress objects terminate TLS; optionally plain HTTP is disabled by annotation.',
    category: 'network',
    defaultEnabled: true,
    parameters: {
      requireTls: { type: 'boolean', default: true, description: 'spec.tls must be non-empty.' },
      requireHttpDisabledAnnotation: {
        type: 'boolean',
        default: false,
        description: 'kubernetes.io/ingress.allow-http must be "false".',
      },
    },
    remediation:
      'Add spec.tls with a certificate secret for the hosts (and kubernetes.io/ingress.allow-http: "false").',
  }),
  compile(p) {
    return (t, _ctx, out) => {
      if (t.status !== 'ingress') return;
      const tls = t.spec['tls'];
      if (p['requireTls'] === true && (!Array.isArray(tls) || tls.length === 0))
        out.push({
          rule: 'ingress-https',
          path: 'spec.tls',
          message: `Ingress ${t.ref.name} serves plain HTTP; add spec.tls with a certificate secret`,
        });
      if (
        p['requireHttpDisabledAnnotation'] === true &&
        t.annotations['kubernetes.io/ingress.allow-http'] !== 'false'
      ) {
        out.push({
          rule: 'ingress-https',
          path: 'metadata.annotations["kubernetes.io/ingress.allow-http"]',
          message: `Ingress ${t.ref.name} allows plain HTTP; set annotation kubernetes.io/ingress.allow-http: "false"`,
        });
      }
    };
  },
};
