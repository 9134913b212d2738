// Scenario `vap`: how long the ValidatingAdmissionPolicy compiler takes, single thread.
// Per policy: p50/p99 over many compiles of realistic policies (the default policy, each
// PSS preset, policies with namespace patterns and with exemptions of every kind), and per
// bundle of 100 such policies (what the agent recompiles when its bundle or an exemption's
// expiry changes). Nothing is cached between compiles: each call builds every expression.
import type { BundlePolicy } from '@portcullis/bundle';
import { defaultRuleConfigs, expandPreset, type RuleConfig } from '@portcullis/policy-engine';
import { compileVap } from '@portcullis/vap';

const POLICY_COMPILES = 2_000;
const BUNDLE_COMPILES = 40;
const BUNDLE_SIZE = 100;
const WARMUP = 200;
const NOW = new Date('2026-12-06T12:00:00Z');

const rules = (list: readonly RuleConfig[]) => list.map((r) => ({ id: r.id, params: r.params }));

/** Four shapes of policy, as tenants write them. */
function realistic(i: number): BundlePolicy {
  const base = {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    type: 'MISCONFIGURATION' as const,
    action: i % 3 === 0 ? ('AUDIT' as const) : ('BLOCK' as const),
    namespaces: { include: [] as string[], exclude: [] as string[] },
    exemptions: [] as Array<Record<string, unknown>>,
  };
  switch (i % 4) {
    case 0:
      return { ...base, name: `default ${i}`, rules: rules(defaultRuleConfigs('MISCONFIGURATION')) };
    case 1:
      return { ...base, name: `pss-restricted ${i}`, rules: rules(expandPreset('pss-restricted')) };
    case 2:
      return {
        ...base,
        name: `prod limits ${i}`,
        namespaces: { include: ['prod-*', 'payments-?'], exclude: ['prod-sandbox', 'kube-*'] },
        rules: [
          ...rules(expandPreset('pss-baseline')),
          { id: 'resource-limits', params: { maxCpuLimit: '2', maxMemoryLimit: '4Gi' } },
          {
            id: 'trusted-registries',
            params: { allowedImages: ['mcr.microsoft.com/', 'docker.io/library/*', 'registry.k8s.io/'] },
          },
        ],
      };
    default:
      return {
        ...base,
        name: `exempted ${i}`,
        rules: rules(expandPreset('pss-restricted')),
        exemptions: [
          {
            id: 'cni',
            match: 'PREFIX',
            names: ['calico', 'cilium'],
            kinds: ['DaemonSet'],
            reason: 'CNI',
            grantedBy: 'sec',
          },
          { id: 'ns', match: 'GLOB', namespaces: ['kube-*', 'monitoring'], reason: 'platform', grantedBy: 'sec' },
          {
            id: 'img',
            match: 'PREFIX',
            images: ['quay.io/calico/', 'docker.io/library/nginx'],
            rules: ['capabilities'],
            reason: 'r',
            grantedBy: 'sec',
          },
          {
            id: 'lbl',
            match: 'EQUALS',
            labelSelector: { team: 'net' },
            reason: 'r',
            grantedBy: 'sec',
            expiresAt: '2027-01-01T00:00:00Z',
          },
        ],
      };
  }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const round = (n: number) => Math.round(n * 1000) / 1000;

export function run(): Record<string, unknown> {
  const policies = Array.from({ length: BUNDLE_SIZE }, (_, i) => realistic(i));
  for (let i = 0; i < WARMUP; i++) compileVap([policies[i % policies.length]!], { now: NOW });

  const perPolicy: number[] = [];
  for (let i = 0; i < POLICY_COMPILES; i++) {
    const p = policies[i % policies.length]!;
    const t = process.hrtime.bigint();
    compileVap([p], { now: NOW });
    perPolicy.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  perPolicy.sort((a, b) => a - b);

  const perBundle: number[] = [];
  let objects = 0;
  let bytes = 0;
  let longestExpression = 0;
  for (let i = 0; i < BUNDLE_COMPILES; i++) {
    const t = process.hrtime.bigint();
    const r = compileVap(policies, { now: NOW, labels: { 'app.kubernetes.io/managed-by': 'portcullis-agent' } });
    perBundle.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (i === 0) {
      objects = r.objects.length;
      const text = JSON.stringify(r.objects);
      bytes = text.length;
      for (const m of text.matchAll(/"expression":"((?:[^"\\]|\\.)*)"/g))
        longestExpression = Math.max(longestExpression, m[1]!.length);
    }
  }
  perBundle.sort((a, b) => a - b);

  return {
    policies: BUNDLE_SIZE,
    compileMsP50: round(percentile(perPolicy, 50)),
    compileMsP99: round(percentile(perPolicy, 99)),
    bundleMsP50: round(percentile(perBundle, 50)),
    bundleMsP99: round(percentile(perBundle, 99)),
    objects,
    bundleJsonBytes: bytes,
    longestExpressionChars: longestExpression,
    policyCompiles: POLICY_COMPILES,
    bundleCompiles: BUNDLE_COMPILES,
  };
}
