import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const FORMATS = ['text', 'json', 'sarif', 'junit'] as const;
type Format = (typeof FORMATS)[number];

const USAGE = [
  'portcullis eval [-p policy.yaml]... [-n namespace] [--format text|json|sarif|junit] [--allow-empty] [--allow-unknown] <files|dirs... | ->',
  '',
  'Evaluates Kubernetes manifests (multi-document YAML, JSON, kind: List; "-" reads stdin;',
  'directories are searched for *.yaml, *.yml and *.json) against policy files. Without -p,',
  'the default misconfiguration policy applies in BLOCK mode. Documents are numbered from 1',
  'in each file, lines from 1.',
  '',
  '  -p, --policy FILE   policy file (YAML or JSON; repeatable)',
  '  -n, --namespace NS  namespace for objects that name none (default: default)',
  '  --format FORMAT     text (default), json, sarif (code scanning) or junit',
  '  --allow-empty       pass when the inputs hold no Kubernetes object at all',
  '  --allow-unknown     report documents that cannot be evaluated and go on',
  '',
  'Exit codes: 0 no blocking violation; 1 at least one object would be denied;',
  '2 usage or input error: a missing file, a YAML or JSON syntax error, an invalid policy',
  '  file (the message names the file, the document and the line or field); inputs that',
  '  hold no Kubernetes object (an empty file, a directory without manifests), unless',
  '  --allow-empty; a document that cannot be evaluated (not an object, no kind, a pod',
  '  template that is not an object...), unless --allow-unknown, which reports it as',
  '  "cannot evaluate" instead. A run never passes on nothing it could read.',
  'Kinds without pod specs (Service, ConfigMap...) only meet the namespace rules.',
].join('\n');

/** Documents named one per line in an input error before the rest are counted. */
const MAX_LISTED = 20;

/** `portcullis eval`: the engine in a CI pipeline, offline. */
export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'evaluate manifests against policies (CI gate; SARIF and JUnit output)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        options: {
          policy: { type: 'string', short: 'p', multiple: true },
          namespace: { type: 'string', short: 'n', default: 'default' },
          format: { type: 'string', default: 'text' },
          'allow-empty': { type: 'boolean', default: false },
          'allow-unknown': { type: 'boolean', default: false },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nusage: ${USAGE}`);
    }
    const { values, positionals } = parsed;
    const format = values.format as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.namespace!))
      throw new UsageError(`-n "${values.namespace}" is not a namespace name`);
    if (positionals.length === 0) throw new UsageError(`no manifests given\nusage: ${USAGE}`);

    const engine = await import('@portcullis/policy-engine');
    const { expandInputs, parseManifests, readSource, InputError } = await import('../manifests');
    const report = await import('../eval/report');

    const policies: import('@portcullis/policy-engine').Policy[] = [];
    for (const file of values.policy ?? []) {
      const text = await readSource(file, io).catch((err: unknown) => {
        throw err instanceof InputError ? new UsageError(err.message) : err;
      });
      const parsedPolicies = engine.parsePolicyDocuments(text, file);
      if (!parsedPolicies.ok) throw new UsageError(parsedPolicies.errors.map((e) => e.message).join('\n'));
      // the same policy name in two files would make violations ambiguous
      for (const p of parsedPolicies.policies) {
        if (policies.some((q) => q.name === p.name))
          throw new UsageError(`${file}: policy "${p.name}" is also defined in another -p file`);
        policies.push(p);
      }
    }
    if (policies.length === 0) {
      policies.push({
        id: 'default',
        name: 'Default K8s misconfiguration rule',
        type: 'MISCONFIGURATION' as const,
        action: 'BLOCK' as const,
        namespaces: { include: [], exclude: [] },
        rules: engine.defaultRuleConfigs('MISCONFIGURATION'),
        exemptions: [],
      });
    }
    const compiled = engine.compilePolicies(policies);

    let files: string[];
    try {
      files = expandInputs(positionals, io.cwd);
    } catch (err) {
      if (err instanceof InputError) throw new UsageError(err.message);
      throw err;
    }
    const results: import('../eval/report').ObjectResult[] = [];
    const now = new Date();
    for (const file of files) {
      let objects;
      try {
        objects = parseManifests(await readSource(file, io), file);
      } catch (err) {
        if (err instanceof InputError) throw new UsageError(err.message);
        throw err;
      }
      for (const m of objects) {
        const r = engine.evaluatePolicies(m.object, compiled, { defaultNamespace: values.namespace!, now });
        const o = m.object as { kind?: unknown; metadata?: { name?: unknown } } | null;
        results.push({
          source: m.source,
          index: m.index,
          ...(m.item ? { item: m.item } : {}),
          ...(m.line ? { line: m.line } : {}),
          kind: r.object?.kind ?? (typeof o?.kind === 'string' ? o.kind : '(unknown)'),
          namespace: r.object?.namespace ?? null,
          name: r.object?.name ?? (typeof o?.metadata?.name === 'string' ? o.metadata.name : ''),
          decision: r.decision,
          status: r.status,
          ...(r.reason ? { reason: r.reason } : {}),
          violations: r.violations,
        });
      }
    }
    // a gate that passes on what it could not read would wave anything through: say what and where
    const unknown = results.filter((r) => r.status === 'cannot-evaluate');
    if (unknown.length > 0 && !values['allow-unknown']) {
      const shown = unknown
        .slice(0, MAX_LISTED)
        .map((r) => `${report.whereOf(r)}: cannot evaluate: ${r.reason ?? 'not a Kubernetes object'}`);
      if (unknown.length > MAX_LISTED) shown.push(`... and ${unknown.length - MAX_LISTED} more`);
      throw new UsageError(
        `${shown.join('\n')}\n${unknown.length} document${unknown.length === 1 ? '' : 's'} cannot be evaluated (--allow-unknown reports them and goes on)`,
      );
    }
    if (results.length === unknown.length && !values['allow-empty']) {
      const inputs = positionals.map((p) => (p === '-' ? 'stdin' : p));
      const named =
        inputs.length > MAX_LISTED
          ? `${inputs.slice(0, MAX_LISTED).join(', ')} and ${inputs.length - MAX_LISTED} more`
          : inputs.join(', ');
      const why =
        files.length === 0
          ? 'no *.yaml, *.yml or *.json file'
          : `${files.length} file${files.length === 1 ? '' : 's'} read`;
      throw new UsageError(`no Kubernetes object found in ${named} (${why}; --allow-empty lets an empty input pass)`);
    }
    const { repoPath } = await import('@portcullis/config');
    const version = (JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version;
    const out =
      format === 'json'
        ? report.toJson(results)
        : format === 'sarif'
          ? report.toSarif(results, version)
          : format === 'junit'
            ? report.toJunit(results)
            : report.toText(results);
    io.stdout.write(`${out}\n`);
    return results.some((r) => r.decision === 'deny') ? 1 : 0;
  },
};
