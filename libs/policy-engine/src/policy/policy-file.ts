import YAML from 'yaml';
import { PRESET_IDS, expandPreset, findRule, validateRuleParams, type PresetId } from '../rules/catalog';
import type { PolicyType, RuleConfig } from '../types';
import type { Exemption, MatchMode, Policy } from './model';
import { MAX_NAMESPACE_PATTERN_LENGTH, MAX_PATTERNS_PER_LIST, MAX_PATTERN_LENGTH } from './pattern-matcher';
import { policyNameProblem } from './policy-name';

/**
 * Policy files (DESIGN.md §7): what `portcullis eval -p` reads and what the API
 * imports and exports. One or more YAML documents or JSON (an object, an array, or a
 * `kind: List`). Errors name the source, the document index and the field.
 */
export interface PolicyFileError {
  readonly source: string;
  /** 0-based index of the document in the file (of the item, for arrays and Lists). */
  readonly document: number;
  /** Dotted path of the offending field, e.g. `spec.rules[2].params.maxMemoryLimit`. */
  readonly field: string;
  /** `<source>: document <n>: <field>: <problem>`, ready to print. */
  readonly message: string;
}

export type PolicyFileResult =
  | { readonly ok: true; readonly policies: Policy[] }
  | { readonly ok: false; readonly errors: readonly PolicyFileError[] };

export const POLICY_API_VERSION = 'portcullis.dev/v1';
const ID = /^[A-Za-z0-9][A-Za-z0-9._:#-]{0,127}$/;
const NS_PATTERN = /^[a-z0-9*?]([a-z0-9*?.-]{0,252})?$/;
const VULN_ID = /^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,60}$/;
export const MATCH_MODES: readonly MatchMode[] = ['EQUALS', 'PREFIX', 'SUFFIX', 'CONTAINS', 'GLOB'];
const EXEMPTION_KEYS = [
  'id',
  'namespaces',
  'kinds',
  'names',
  'images',
  'labelSelector',
  'cves',
  'rules',
  'match',
  'reason',
  'grantedBy',
  'expiresAt',
];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class DocumentErrors {
  readonly list: PolicyFileError[] = [];
  constructor(
    private readonly source: string,
    private readonly document: number,
  ) {}
  add(field: string, message: string): void {
    this.list.push({
      source: this.source,
      document: this.document,
      field,
      message: `${this.source}: document ${this.document + 1}: ${field}: ${message}`,
    });
  }
}

function strings(
  v: unknown,
  field: string,
  errors: DocumentErrors,
  check?: (s: string) => string | undefined,
): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errors.add(field, 'must be a list of strings');
    return [];
  }
  return v.flatMap((s: unknown, i) => {
    const problem = typeof s !== 'string' ? 'must be a string' : s === '' ? 'must not be empty' : check?.(s);
    if (problem) {
      errors.add(`${field}[${i}]`, problem);
      return [];
    }
    return [s as string];
  });
}

function onlyKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  field: string,
  errors: DocumentErrors,
): void {
  for (const k of Object.keys(obj))
    if (!allowed.includes(k))
      errors.add(field ? `${field}.${k}` : k, `unknown field (expected one of ${allowed.join(', ')})`);
}

const nsCheck = (s: string) =>
  NS_PATTERN.test(s)
    ? undefined
    : `${JSON.stringify(s.slice(0, 60))} is not a namespace pattern (lower-case name with * and ? wildcards)`;
/** A list of patterns: at most MAX_PATTERNS_PER_LIST, each at most `maxLength` characters, so matching them stays cheap. */
function patterns(
  v: unknown,
  field: string,
  errors: DocumentErrors,
  maxLength: number,
  check?: (s: string) => string | undefined,
): string[] {
  if (Array.isArray(v) && v.length > MAX_PATTERNS_PER_LIST) {
    errors.add(field, `has ${v.length} patterns; at most ${MAX_PATTERNS_PER_LIST} are allowed`);
    return [];
  }
  return strings(v, field, errors, (s) =>
    s.length > maxLength ? `is ${s.length} characters long; a pattern has at most ${maxLength}` : check?.(s),
  );
}

/**
 * Presets expand to their level's rules; an explicit `- id:` entry wins over a preset
 * entry for the same rule wherever it stands, its params merged over the preset's.
 */
function parseRules(raw: unknown, type: PolicyType, errors: DocumentErrors): RuleConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.add('spec.rules', 'must be a list');
    return [];
  }
  const fromPresets = new Map<string, RuleConfig>();
  const explicit = new Map<string, { index: number; params: Record<string, unknown> }>();
  const order: string[] = [];
  const note = (id: string) => (order.includes(id) ? undefined : order.push(id));
  raw.forEach((entry: unknown, i) => {
    const field = `spec.rules[${i}]`;
    if (!isObject(entry)) return errors.add(field, 'must be { id, params } or { preset }');
    if ('preset' in entry) {
      onlyKeys(entry, ['preset'], field, errors);
      if (!(PRESET_IDS as readonly unknown[]).includes(entry['preset']))
        return errors.add(
          `${field}.preset`,
          `unknown preset ${JSON.stringify(entry['preset'])}; known: ${PRESET_IDS.join(', ')}`,
        );
      if (type !== 'MISCONFIGURATION')
        return errors.add(`${field}.preset`, 'presets hold misconfiguration rules; this is a VULNERABILITY policy');
      for (const r of expandPreset(entry['preset'] as PresetId)) {
        fromPresets.set(r.id, r);
        note(r.id);
      }
      return;
    }
    onlyKeys(entry, ['id', 'params'], field, errors);
    const id = entry['id'];
    if (typeof id !== 'string') return errors.add(`${field}.id`, 'is required and must be a rule id');
    const def = findRule(id);
    if (!def) return errors.add(`${field}.id`, `unknown rule "${id}"`);
    if (def.policyType !== type)
      return errors.add(`${field}.id`, `rule "${id}" belongs to ${def.policyType} policies, this is a ${type} policy`);
    const before = explicit.get(id);
    if (before) return errors.add(`${field}.id`, `rule "${id}" is already configured by spec.rules[${before.index}]`);
    const params = entry['params'] ?? {};
    if (!isObject(params)) return errors.add(`${field}.params`, 'must be an object');
    explicit.set(id, { index: i, params });
    note(id);
  });
  const rules: RuleConfig[] = [];
  for (const id of order) {
    const given = explicit.get(id);
    if (!given) {
      rules.push(fromPresets.get(id)!);
      continue;
    }
    const v = validateRuleParams(id, { ...fromPresets.get(id)?.params, ...given.params });
    if (v.ok) rules.push({ id, params: v.params });
    else
      for (const e of v.errors)
        errors.add(`spec.rules[${given.index}].params${e.param ? `.${e.param}` : ''}`, e.message);
  }
  return rules;
}

/** `{ app: web }` or the Kubernetes form `{ matchLabels: { app: web } }`, as a flat map. */
function labelSelector(raw: unknown, field: string, errors: DocumentErrors): Record<string, string> | null {
  if (raw === undefined || raw === null) return null;
  const flat =
    isObject(raw) && Object.keys(raw).length === 1 && isObject(raw['matchLabels']) ? raw['matchLabels'] : raw;
  if (!isObject(flat) || Object.values(flat).some((v) => typeof v !== 'string')) {
    errors.add(field, 'must map label keys to string values (matchLabels)');
    return null;
  }
  return Object.keys(flat).length ? (flat as Record<string, string>) : null;
}

function parseExemptions(raw: unknown, type: PolicyType, errors: DocumentErrors): Exemption[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.add('spec.exemptions', 'must be a list');
    return [];
  }
  const ids = new Set<string>();
  return raw.flatMap((e: unknown, i) => {
    const field = `spec.exemptions[${i}]`;
    if (!isObject(e)) {
      errors.add(field, 'must be an object');
      return [];
    }
    onlyKeys(e, EXEMPTION_KEYS, field, errors);
    // ids are unique within their policy; violations carry both
    const id = e['id'] ?? `exemption-${i}`;
    if (typeof id !== 'string' || !ID.test(id))
      errors.add(`${field}.id`, 'must be 1-128 letters, digits, ".", "_", ":", "#" or "-"');
    else if (ids.has(id)) errors.add(`${field}.id`, `"${id}" is already the id of another exemption`);
    else ids.add(id);
    const match = e['match'] ?? 'EQUALS';
    if (!MATCH_MODES.includes(match as MatchMode))
      errors.add(`${field}.match`, `must be one of ${MATCH_MODES.join(', ')}`);
    const reason = e['reason'];
    if (typeof reason !== 'string' || reason.trim() === '')
      errors.add(`${field}.reason`, 'is required: say why the exemption exists');
    const grantedBy = e['grantedBy'];
    if (typeof grantedBy !== 'string' || grantedBy.trim() === '')
      errors.add(`${field}.grantedBy`, 'is required: who granted the exemption');
    const expiresAt = e['expiresAt'] ?? null;
    // YAML turns unquoted timestamps into Dates
    const expiry = expiresAt instanceof Date ? expiresAt : typeof expiresAt === 'string' ? new Date(expiresAt) : null;
    if (expiresAt !== null && (expiry === null || Number.isNaN(expiry.getTime())))
      errors.add(`${field}.expiresAt`, 'must be an ISO 8601 timestamp, e.g. 2026-12-31T00:00:00Z');
    const labels = labelSelector(e['labelSelector'], `${field}.labelSelector`, errors);
    const cves = strings(e['cves'], `${field}.cves`, errors, (c) =>
      VULN_ID.test(c) ? undefined : `${JSON.stringify(c.slice(0, 60))} is not a vulnerability id (e.g. CVE-2024-3094)`,
    );
    if (cves.length && type !== 'VULNERABILITY')
      errors.add(`${field}.cves`, 'CVE exemptions belong to VULNERABILITY policies');
    const rules = strings(e['rules'], `${field}.rules`, errors, (r) =>
      findRule(r)?.policyType === type ? undefined : `"${r}" is not a ${type} rule`,
    );
    const out: Exemption = {
      id: typeof id === 'string' ? id : '',
      namespaces: patterns(e['namespaces'], `${field}.namespaces`, errors, MAX_NAMESPACE_PATTERN_LENGTH),
      kinds: strings(e['kinds'], `${field}.kinds`, errors),
      names: patterns(e['names'], `${field}.names`, errors, MAX_PATTERN_LENGTH),
      images: patterns(e['images'], `${field}.images`, errors, MAX_PATTERN_LENGTH),
      labelSelector: labels,
      cves,
      rules,
      match: match as MatchMode,
      reason: typeof reason === 'string' ? reason : '',
      grantedBy: typeof grantedBy === 'string' ? grantedBy : '',
      expiresAt: expiry && !Number.isNaN(expiry.getTime()) ? expiry.toISOString() : null,
    };
    // an exemption with no criterion would silently exempt everything
    if (![out.namespaces, out.kinds, out.names, out.images, out.cves].some((l) => l!.length) && !labels) {
      errors.add(field, 'must name at least one of namespaces, kinds, names, images, labelSelector or cves');
    }
    return [out];
  });
}

function parseDocument(doc: unknown, errors: DocumentErrors): Policy | undefined {
  if (!isObject(doc)) {
    errors.add('(document)', 'must be a Policy object (apiVersion, kind, metadata, spec)');
    return undefined;
  }
  onlyKeys(doc, ['apiVersion', 'kind', 'metadata', 'spec'], '', errors);
  if (doc['apiVersion'] !== POLICY_API_VERSION) errors.add('apiVersion', `must be ${POLICY_API_VERSION}`);
  if (doc['kind'] !== 'Policy') errors.add('kind', 'must be Policy');
  const meta = isObject(doc['metadata']) ? doc['metadata'] : {};
  if (!isObject(doc['metadata'])) errors.add('metadata', 'is required');
  onlyKeys(meta, ['name', 'id', 'description'], 'metadata', errors);
  const name = meta['name'];
  const nameProblem = policyNameProblem(name);
  if (nameProblem) errors.add('metadata.name', nameProblem);
  const id = meta['id'] ?? name;
  if (meta['id'] !== undefined && (typeof id !== 'string' || !ID.test(id)))
    errors.add('metadata.id', 'must be 1-128 letters, digits, ".", "_", ":", "#" or "-"');
  const description = meta['description'] ?? '';
  if (typeof description !== 'string') errors.add('metadata.description', 'must be a string');
  const spec = doc['spec'];
  if (!isObject(spec)) {
    errors.add('spec', 'is required');
    return undefined;
  }
  onlyKeys(spec, ['type', 'action', 'scope', 'rules', 'exemptions'], 'spec', errors);
  const type = spec['type'];
  if (type !== 'MISCONFIGURATION' && type !== 'VULNERABILITY') {
    errors.add('spec.type', 'must be MISCONFIGURATION or VULNERABILITY');
    return undefined;
  }
  const action = spec['action'];
  if (action !== 'AUDIT' && action !== 'BLOCK') errors.add('spec.action', 'must be AUDIT or BLOCK');
  const scope = spec['scope'] ?? {};
  if (!isObject(scope)) errors.add('spec.scope', 'must be an object');
  const sc = isObject(scope) ? scope : {};
  onlyKeys(sc, ['cloudScopes', 'clusters', 'namespaces'], 'spec.scope', errors);
  const ns = sc['namespaces'] ?? {};
  if (!isObject(ns)) errors.add('spec.scope.namespaces', 'must be { include, exclude }');
  const nso = isObject(ns) ? ns : {};
  onlyKeys(nso, ['include', 'exclude'], 'spec.scope.namespaces', errors);
  const policyId = typeof id === 'string' ? id : '';
  return {
    id: policyId,
    name: typeof name === 'string' ? name : '',
    ...(typeof description === 'string' && description !== '' ? { description } : {}),
    type,
    action: action === 'BLOCK' ? 'BLOCK' : 'AUDIT',
    cloudScopes: strings(sc['cloudScopes'], 'spec.scope.cloudScopes', errors),
    clusters: strings(sc['clusters'], 'spec.scope.clusters', errors),
    namespaces: {
      include: patterns(nso['include'], 'spec.scope.namespaces.include', errors, MAX_NAMESPACE_PATTERN_LENGTH, nsCheck),
      exclude: patterns(nso['exclude'], 'spec.scope.namespaces.exclude', errors, MAX_NAMESPACE_PATTERN_LENGTH, nsCheck),
    },
    rules: parseRules(spec['rules'], type, errors),
    exemptions: parseExemptions(spec['exemptions'], type, errors),
  };
}

/** Splits the text into documents: JSON (object, array) or multi-document YAML. */
function documentsOf(text: string, source: string): { docs: unknown[] } | { error: PolicyFileError } {
  // messages number documents from 1, as `portcullis eval` and editors do; `document` stays the 0-based index
  const fail = (document: number, field: string, detail: string) => ({
    error: { source, document, field, message: `${source}: document ${document + 1}: ${detail}` },
  });
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const value: unknown = JSON.parse(text);
      return { docs: Array.isArray(value) ? value : [value] };
    } catch (err) {
      return fail(0, '(json)', `not valid JSON: ${(err as Error).message}`);
    }
  }
  const list = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const docs: unknown[] = [];
  for (const [i, d] of (Array.isArray(list) ? list : [list]).entries()) {
    if (d.errors.length) {
      const e = d.errors[0]!;
      const line = e.linePos?.[0]?.line;
      return fail(i, '(yaml)', `${line ? `line ${line}: ` : ''}${e.message.split('\n')[0]}`);
    }
    try {
      docs.push(d.toJS({ maxAliasCount: 100 }));
    } catch (err) {
      return fail(i, '(yaml)', (err as Error).message);
    }
  }
  return { docs: docs.filter((d) => d !== null && d !== undefined) };
}

export interface PolicyFileOptions {
  /** Refuse a file holding more policies than this (an API import is one transaction). */
  readonly maxDocuments?: number;
}

/** Parses policy files; every problem found is reported, not just the first. */
export function parsePolicyDocuments(text: string, source: string, options: PolicyFileOptions = {}): PolicyFileResult {
  if (typeof text !== 'string')
    return { ok: false, errors: [{ source, document: 0, field: '(document)', message: `${source}: not text` }] };
  const split = documentsOf(text, source);
  if ('error' in split) return { ok: false, errors: [split.error] };
  const docs = split.docs.flatMap((d) =>
    isObject(d) && d['kind'] === 'List' && Array.isArray(d['items']) ? (d['items'] as unknown[]) : [d],
  );
  if (docs.length === 0)
    return {
      ok: false,
      errors: [{ source, document: 0, field: '(document)', message: `${source}: no policy documents found` }],
    };
  const max = options.maxDocuments;
  if (max !== undefined && docs.length > max) {
    return {
      ok: false,
      errors: [
        {
          source,
          document: max,
          field: '(document)',
          message: `${source}: holds ${docs.length} policy documents; at most ${max} are read at once`,
        },
      ],
    };
  }
  const policies: Policy[] = [];
  const errors: PolicyFileError[] = [];
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  docs.forEach((d, i) => {
    const e = new DocumentErrors(source, i);
    const p = parseDocument(d, e);
    if (p && names.has(p.name))
      e.add('metadata.name', `"${p.name}" is also the name of document ${names.get(p.name)! + 1}`);
    else if (p && ids.has(p.id)) e.add('metadata.id', `"${p.id}" is also the id of document ${ids.get(p.id)! + 1}`);
    if (p) {
      names.set(p.name, i);
      ids.set(p.id, i);
    }
    errors.push(...e.list);
    if (p && e.list.length === 0) policies.push(p);
  });
  return errors.length ? { ok: false, errors } : { ok: true, policies };
}
