import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const TARGETS = ['vap'] as const;

const USAGE = [
  'portcullis compile --target vap [-p policy.yaml]... [--now ISO-8601]',
  '',
  'Compiles misconfiguration policies to Kubernetes ValidatingAdmissionPolicy and',
  'ValidatingAdmissionPolicyBinding objects (admissionregistration.k8s.io/v1, Kubernetes',
  '1.30+), one pair per policy and rule, printed as multi-document YAML for GitOps.',
  'Without -p, the default misconfiguration policy in BLOCK mode, as eval uses it.',
  'Vulnerability policies are not compiled: they need scan artifacts at admission and',
  'stay in the webhook.',
  '',
  '  --target TARGET   what to compile to: vap (required)',
  '  -p, --policy FILE policy file (YAML or JSON; repeatable; "-" reads stdin)',
  '  --now TIME        exemptions expired at TIME are left out (default: now); CEL has',
  '                    no clock, so recompile when the next exemption expires (printed)',
  '',
  'Exit codes: 0 everything compiled; 1 some rule, exemption or pattern could not be',
  'expressed (each one named on stderr and in the YAML header; the rest is printed);',
  '2 usage or input error (the message names the file, document and field).',
].join('\n');

/** `portcullis compile --target vap`: policies as objects kube-apiserver enforces itself. */
export const compileCommand: CliCommand = {
  name: 'compile',
  summary: 'compile policies to ValidatingAdmissionPolicy objects (GitOps, native enforcement)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        options: {
          target: { type: 'string' },
          policy: { type: 'string', short: 'p', multiple: true },
          now: { type: 'string' },
        },
        allowPositionals: false,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nusage: ${USAGE}`);
    }
    const { values } = parsed;
    if (values.target === undefined) throw new UsageError(`--target is required (one of: ${TARGETS.join(', ')})`);
    if (!TARGETS.includes(values.target as (typeof TARGETS)[number]))
      throw new UsageError(`--target "${values.target}" is not known; known: ${TARGETS.join(', ')}`);
    const now = values.now === undefined ? new Date() : new Date(values.now);
    if (Number.isNaN(now.getTime()))
      throw new UsageError(`--now "${values.now}" is not an ISO 8601 time (e.g. 2026-12-31T00:00:00Z)`);

    const engine = await import('@portcullis/policy-engine');
    const { readSource, InputError } = await import('../manifests');
    const { compileVap } = await import('@portcullis/vap');
    const YAML = (await import('yaml')).default;

    const policies: import('@portcullis/policy-engine').Policy[] = [];
    for (const file of values.policy ?? []) {
      const text = await readSource(file, io).catch((err: unknown) => {
        throw err instanceof InputError ? new UsageError(err.message) : err;
      });
      const parsedPolicies = engine.parsePolicyDocuments(text, file);
      if (!parsedPolicies.ok) throw new UsageError(parsedPolicies.errors.map((e) => e.message).join('\n'));
      for (const p of parsedPolicies.policies) {
        // two policies of one name would compile to objects of one name
        if (policies.some((q) => q.name === p.name))
          throw new UsageError(`${file}: policy "${p.name}" is defined more than once`);
        policies.push(p);
      }
    }
    if (policies.length === 0)
      policies.push({
        id: 'default',
        name: 'Default K8s misconfiguration rule',
        type: 'MISCONFIGURATION',
        action: 'BLOCK',
        namespaces: { include: [], exclude: [] },
        rules: engine.defaultRuleConfigs('MISCONFIGURATION'),
        exemptions: [],
      });

    const result = compileVap(
      policies.map((p) => ({
        id: p.id,
        name: p.name,
        type: p.type,
        action: p.action,
        namespaces: { include: [...p.namespaces.include], exclude: [...p.namespaces.exclude] },
        rules: p.rules.map((r) => ({ id: r.id, params: r.params })),
        exemptions: p.exemptions.map((e) => ({ ...e })),
      })),
      { now },
    );

    const notes: string[] = [];
    for (const p of policies)
      if (p.type === 'VULNERABILITY')
        notes.push(
          `policy "${p.name}": not compiled: vulnerability gating needs scan artifacts at admission; it stays in the webhook`,
        );
    const problems: string[] = [];
    for (const o of result.policies)
      for (const u of o.unsupported)
        problems.push(
          `policy "${o.policyName}"${u.rule ? ` rule ${u.rule}` : ''} (${u.what}): not compiled: ${u.reason}`,
        );
    if (result.nextExpiry) notes.push(`an exemption expires at ${result.nextExpiry}: compile again then`);

    for (const line of [...problems, ...notes]) io.stderr.write(`portcullis compile: ${line}\n`);
    const header = [
      `# Generated by portcullis compile --target vap at ${now.toISOString()}: ${result.objects.length} objects.`,
      ...[...problems, ...notes].map((l) => `# ${l.replace(/\n/g, ' ')}`),
    ].join('\n');
    const docs = result.objects.map((o) => YAML.stringify(o, { lineWidth: 0 }));
    io.stdout.write(`${header}\n${docs.length === 0 ? '' : `---\n${docs.join('---\n')}`}`);
    return problems.length > 0 ? 1 : 0;
  },
};
