import { createHash } from 'node:crypto';
import { RULE_CATALOG, isBlocking, type Violation } from '@portcullis/policy-engine';

/** One evaluated object, as every output format sees it. */
export interface ObjectResult {
  readonly source: string;
  /** Document number in the source, from 1. */
  readonly index: number;
  /** Item number, from 1, inside a `kind: List` document. */
  readonly item?: number;
  readonly line?: number;
  readonly kind: string;
  readonly namespace: string | null;
  readonly name: string;
  readonly decision: 'allow' | 'deny';
  readonly status: 'evaluated' | 'not-applicable' | 'cannot-evaluate';
  readonly reason?: string;
  readonly violations: readonly Violation[];
}

export interface Summary {
  readonly objects: number;
  readonly denied: number;
  readonly allowed: number;
  readonly violations: number;
  readonly blocking: number;
  readonly audit: number;
  readonly exempted: number;
  /** Violations of rules that crashed on the object: reported, never blocking. */
  readonly ruleErrors: number;
  readonly cannotEvaluate: number;
}

/** "file: document 3: line 12" (and the item of a List), as input errors name a document. */
export function whereOf(r: Pick<ObjectResult, 'source' | 'index' | 'item' | 'line'>): string {
  return `${r.source === '-' ? 'stdin' : r.source}: document ${r.index}${r.item ? `, item ${r.item}` : ''}${r.line ? `: line ${r.line}` : ''}`;
}

export function summarize(results: readonly ObjectResult[]): Summary {
  const all = results.flatMap((r) => r.violations);
  return {
    objects: results.length,
    denied: results.filter((r) => r.decision === 'deny').length,
    allowed: results.filter((r) => r.decision === 'allow').length,
    violations: all.length,
    // the same predicate the engine decides with, so `blocking > 0` iff something is denied
    blocking: all.filter(isBlocking).length,
    audit: all.filter((v) => v.action === 'AUDIT' && !v.exempted && v.reason !== 'RULE_ERROR').length,
    exempted: all.filter((v) => v.exempted).length,
    ruleErrors: all.filter((v) => !v.exempted && v.reason === 'RULE_ERROR').length,
    cannotEvaluate: results.filter((r) => r.status === 'cannot-evaluate').length,
  };
}

/** How a violation is tagged in text and logs: a crashed rule says so instead of its policy's mode. */
const tag = (v: Violation) =>
  v.exempted ? 'EXEMPT' : v.reason === 'RULE_ERROR' ? `${v.action}, RULE_ERROR` : v.action;

const label = (r: ObjectResult) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name || '(unnamed)'}`;

export function toJson(results: readonly ObjectResult[]): string {
  return JSON.stringify(
    {
      results: results.map((r) => ({
        source: r.source,
        index: r.index,
        ...(r.item ? { item: r.item } : {}),
        ...(r.line ? { line: r.line } : {}),
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        decision: r.decision,
        status: r.status,
        ...(r.reason ? { reason: r.reason } : {}),
        violations: r.violations.map((v) => ({
          policy: v.policy,
          rule: v.rule,
          action: v.action,
          message: v.message,
          path: v.path,
          ...(v.container ? { container: v.container } : {}),
          ...(v.exempted ? { exempted: true, exemptionId: v.exemptionId } : {}),
          ...(v.reason ? { reason: v.reason } : {}),
        })),
      })),
      summary: summarize(results),
    },
    null,
    2,
  );
}

export function toText(results: readonly ObjectResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.status === 'not-applicable' && r.violations.length === 0) continue;
    const head = `${r.source}#${r.index}${r.item ? `.${r.item}` : ''} ${label(r)}: ${r.decision.toUpperCase()}`;
    if (r.status === 'cannot-evaluate') {
      lines.push(`${head} (cannot evaluate: ${r.reason})`);
      continue;
    }
    lines.push(head);
    for (const v of r.violations) {
      const mark = v.exempted ? '~' : isBlocking(v) ? 'x' : '!';
      lines.push(
        `  ${mark} [${tag(v)}] ${v.policy} / ${v.rule}${v.container ? ` (${v.container})` : ''}: ${v.message}`,
      );
      lines.push(`      at ${v.path}`);
    }
  }
  const s = summarize(results);
  lines.push(
    `${s.objects} objects: ${s.denied} denied, ${s.allowed} allowed; ${s.blocking} blocking, ${s.audit} audit, ${s.exempted} exempted violations${s.ruleErrors ? `; ${s.ruleErrors} from rules that failed (not blocking)` : ''}${s.cannotEvaluate ? `; ${s.cannotEvaluate} could not be evaluated` : ''}`,
  );
  return lines.join('\n');
}

/** SARIF 2.1.0 for code-scanning upload: BLOCK = error, AUDIT or a crashed rule = warning, exempted = suppressed. */
export function toSarif(results: readonly ObjectResult[], toolVersion: string): string {
  const rules = RULE_CATALOG.map((r) => ({
    id: r.id,
    name: r.title.replace(/[^A-Za-z0-9]+/g, ''),
    shortDescription: { text: r.title },
    fullDescription: { text: r.description },
    help: { text: r.remediation, markdown: `**${r.title}**\n\n${r.description}\n\nRemediation: ${r.remediation}` },
    properties: { category: r.category, tags: ['kubernetes', 'security', ...r.pssLevels.map((l) => `pss-${l}`)] },
  }));
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const sarifResults = results.flatMap((r) =>
    r.violations.map((v) => ({
      ruleId: v.rule,
      ...(index.has(v.rule) ? { ruleIndex: index.get(v.rule) } : {}),
      // an exempted Block finding stays an error, suppressed; a crashed rule never blocks, so it warns
      level: v.action === 'BLOCK' && v.reason !== 'RULE_ERROR' ? 'error' : 'warning',
      message: { text: `${label(r)}: ${v.message} (policy ${v.policy})` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: r.source === '-' ? 'stdin' : r.source.split('\\').join('/') },
            region: { startLine: r.line ?? 1 },
          },
          logicalLocations: [{ fullyQualifiedName: `${label(r)}:${v.path}`, kind: 'resource' }],
        },
      ],
      // stable across runs even when lines move, so code scanning tracks one alert per finding
      partialFingerprints: {
        'portcullisFinding/v1': createHash('sha256')
          .update([r.source, r.kind, r.namespace ?? '', r.name, v.policy, v.rule, v.path].join('\u0000'))
          .digest('hex')
          .slice(0, 32),
      },
      ...(v.exempted
        ? { suppressions: [{ kind: 'external', justification: `exemption ${v.exemptionId ?? ''}`.trim() }] }
        : {}),
      properties: { policy: v.policy, action: v.action, ...(v.container ? { container: v.container } : {}) },
    })),
  );
  return JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'portcullis',
              version: toolVersion,
              informationUri: 'https://github.com/portcullis-dev/portcullis',
              rules,
            },
          },
          results: sarifResults,
        },
      ],
    },
    null,
    2,
  );
}

// characters XML 1.0 cannot carry at all are dropped, the rest escaped
const xml = (s: string) =>
  s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** JUnit XML: a suite per file, a case per object, a failure per blocking violation. */
export function toJunit(results: readonly ObjectResult[]): string {
  const bySource = new Map<string, ObjectResult[]>();
  for (const r of results) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  const suites = [...bySource.entries()].map(([source, rs]) => {
    const failures = rs.filter((r) => r.decision === 'deny').length;
    const skipped = rs.filter((r) => r.status === 'cannot-evaluate').length;
    const cases = rs.map((r) => {
      const blocking = r.violations.filter(isBlocking);
      const name = `${label(r)} (document ${r.index}${r.item ? `, item ${r.item}` : ''})`;
      if (r.status === 'cannot-evaluate')
        return `    <testcase classname="${xml(source)}" name="${xml(name)}"><skipped message="${xml(`cannot evaluate: ${r.reason ?? ''}`)}"/></testcase>`;
      // AUDIT, exempted and crashed-rule findings do not fail the case, but the log shows them
      const notes = r.violations
        .filter((v) => !blocking.includes(v))
        .map((v) => `[${tag(v)}] ${v.policy} / ${v.rule}${v.container ? ` (${v.container})` : ''}: ${v.message}`)
        .join('\n');
      const out = notes ? `<system-out>${xml(notes)}</system-out>` : '';
      if (blocking.length === 0)
        return `    <testcase classname="${xml(source)}" name="${xml(name)}">${out}</testcase>`;
      const body = blocking
        .map((v) => `${v.policy} / ${v.rule}${v.container ? ` (${v.container})` : ''}: ${v.message} at ${v.path}`)
        .join('\n');
      return `    <testcase classname="${xml(source)}" name="${xml(name)}"><failure message="${xml(`${blocking.length} blocking violation(s)`)}" type="policy">${xml(body)}</failure>${out}</testcase>`;
    });
    return `  <testsuite name="${xml(source)}" tests="${rs.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="portcullis eval">\n${suites.join('\n')}\n</testsuites>`;
}
