import YAML from 'yaml';
import { PRESET_IDS, expandPreset, findRule, validateRuleParams, type PresetId } from '../rules/catalog';
import type { PolicyAction, PolicyType, RuleConfig } from '../types';
import type { Exemption, MatchMode, NamespaceScope, Policy } from './model';

/**
 * Policy files (DESIGN.md §7): what `portcullis eval -p` reads and what the API
 * imports and exports. One or more YAML documents or JSON (an object, an array, or a
 * `kind: List`). Errors name the source, the document index and the field.
 */
export interface PolicyDocument {
  readonly name: string;
  readonly description: string;
  readonly type: PolicyType;
  readonly action: PolicyAction;
  readonly scope: { readonly cloudScopes: readonly string[]; readonly clusters: readonly string[]; readonly namespaces: NamespaceScope };
  /** Enabled rules, parameters fully defaulted; catalog rules not listed are disabled. */
  readonly rules: readonly RuleConfig[];
  readonly exemptions: ReadonlyArray<Omit<Exemption, 'id'> & { readonly id?: string }>;
}

export interface PolicyFileError {
  readonly source: string;
  /** 0-based index of the document in the file. */
  readonly document: number;
  readonly field: string;
  readonly message: string;
}

export type PolicyFileResult = { readonly ok: true; readonly policies: readonly PolicyDocument[] } | { readonly ok: false; readonly errors: readonly PolicyFileError[] };

const API_VERSION = 'portcullis.dev/v1';
const NAME = /^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,198}[A-Za-z0-9])?$/;
const NS_PATTERN = /^[a-z0-9*?]([a-z0-9*?.-]{0,252})?$/;
const MATCH_MODES: readonly MatchMode[] = ['EQUALS', 'PREFIX', 'SUFFIX', 'CONTAINS', 'GLOB'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class DocumentErrors {
  readonly list: PolicyFileError[] = [];
  constructor(private readonly source: string, private readonly document: number) {}
  add(field: string, message: string): void {
    this.list.push({ source: this.source, document: this.document, field, message: `${this.source}: document ${this.document}: ${field}: ${message}` });
  }
}

function strings(v: unknown, field: string, errors: DocumentErrors, check?: (s: string) => string | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errors.add(field, 'must be a list of strings');
    return [];
  }
  return v.flatMap((s, i) => {
    if (typeof s !== 'string') {
      errors.add(`${field}[${i}]`, 'must be a string');
      return [];
    }
    const problem = check?.(s);
    if (problem) {
      errors.add(`${field}[${i}]`, problem);
      return [];
    }
    return [s];
  });
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], field: string, errors: DocumentErrors): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) errors.add(field ? `${field}.${k}` : k, `unknown field (expected one of ${allowed.join(', ')})`);
}

const nsCheck = (s: string) => (NS_PATTERN.test(s) ? undefined : `"${s.slice(0, 60)}" is not a namespace pattern`);

function parseRules(raw: unknown, type: PolicyType, errors: DocumentErrors): RuleConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.add('spec.rules', 'must be a list');
    return [];
  }
  const rules = new Map<string, RuleConfig>();
  raw.forEach((entry, i) => {
    const field = `spec.rules[${i}]`;
    if (!isObject(entry)) return errors.add(field, 'must be { id, params } or { preset }');
    if ('preset' in entry) {
      onlyKeys(entry, ['preset'], field, errors);
      if (!(PRESET_IDS as readonly unknown[]).includes(entry['preset'])) return errors.add(`${field}.preset`, `unknown preset ${JSON.stringify(entry['preset'])}; known: ${PRESET_IDS.join(', ')}`);
      if (type !== 'MISCONFIGURATION') return errors.add(`${field}.preset`, 'presets hold misconfiguration rules');
      for (const r of expandPreset(entry['preset'] as PresetId)) rules.set(r.id, r);
      return;
    }
    onlyKeys(entry, ['id', 'params'], field, errors);
    const id = entry['id'];
    if (typeof id !== 'string') return errors.add(`${field}.id`, 'is required and must be a rule id');
    const def = findRule(id);
    if (!def) return errors.add(`${field}.id`, `unknown rule "${id}"`);
    if (def.policyType !== type) return errors.add(`${field}.id`, `rule "${id}" belongs to ${def.policyType} policies`);
    const v = validateRuleParams(id, entry['params'] ?? {});
    if (!v.ok) return v.errors.forEach((e) => errors.add(`${field}.params${e.param ? `.${e.param}` : ''}`, e.message));
    rules.set(id, { id, params: v.params });
  });
  return [...rules.values()];
}

function parseExemptions(raw: unknown, type: PolicyType, errors: DocumentErrors): PolicyDocument['exemptions'] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.add('spec.exemptions', 'must be a list');
    return [];
  }
  return raw.flatMap((e, i) => {
    const field = `spec.exemptions[${i}]`;
    if (!isObject(e)) {
      errors.add(field, 'must be an object');
      return [];
    }
    onlyKeys(e, ['id', 'namespaces', 'kinds', 'names', 'images', 'labelSelector', 'cves', 'rules', 'match', 'reason', 'grantedBy', 'expiresAt'], field, errors);
    const match = (e['match'] ?? 'EQUALS') as MatchMode;
    if (!MATCH_MODES.includes(match)) errors.add(`${field}.match`, `must be one of ${MATCH_MODES.join(', ')}`);
    const reason = e['reason'];
    if (typeof reason !== 'string' || reason.trim() === '') errors.add(`${field}.reason`, 'is required');
    const expiresAt = e['expiresAt'] ?? null;
    if (expiresAt !== null && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)))) errors.add(`${field}.expiresAt`, 'must be an ISO timestamp');
    const labels = e['labelSelector'] ?? null;
    if (labels !== null && (!isObject(labels) || Object.values(labels).some((v) => typeof v !== 'string'))) errors.add(`${field}.labelSelector`, 'must map label keys to string values');
    const cves = strings(e['cves'], `${field}.cves`, errors);
    if (cves.length && type !== 'VULNERABILITY') errors.add(`${field}.cves`, 'CVE exemptions belong to VULNERABILITY policies');
    const rules = strings(e['rules'], `${field}.rules`, errors, (r) => (findRule(r)?.policyType === type ? undefined : `"${r}" is not a ${type} rule`));
    const out = {
      ...(typeof e['id'] === 'string' ? { id: e['id'] } : {}),
      namespaces: strings(e['namespaces'], `${field}.namespaces`, errors),
      kinds: strings(e['kinds'], `${field}.kinds`, errors),
      names: strings(e['names'], `${field}.names`, errors),
      images: strings(e['images'], `${field}.images`, errors),
      labelSelector: labels as Record<string, string> | null,
      cves,
      rules,
      match,
      reason: typeof reason === 'string' ? reason : '',
      grantedBy: typeof e['grantedBy'] === 'string' ? e['grantedBy'] : 'policy-file',
      expiresAt: typeof expiresAt === 'string' ? new Date(expiresAt).toISOString() : null,
    };
    if (![out.namespaces, out.kinds, out.names, out.images, out.cves].some((l) => l.length) && !(labels && Object.keys(labels).length)) {
      errors.add(field, 'must name at least one of namespaces, kinds, names, images, labelSelector or cves');
    }
    return [out];
  });
}

function parseDocument(doc: unknown, errors: DocumentErrors): PolicyDocument | undefined {
  if (!isObject(doc)) {
    errors.add('(document)', 'must be a Policy object');
    return undefined;
  }
  onlyKeys(doc, ['apiVersion', 'kind', 'metadata', 'spec'], '', errors);
  if (doc['apiVersion'] !== API_VERSION) errors.add('apiVersion', `must be ${API_VERSION}`);
  if (doc['kind'] !== 'Policy') errors.add('kind', 'must be Policy');
  const meta = isObject(doc['metadata']) ? doc['metadata'] : {};
  if (!isObject(doc['metadata'])) errors.add('metadata', 'is required');
  onlyKeys(meta, ['name', 'description'], 'metadata', errors);
  const name = meta['name'];
  if (typeof name !== 'string' || !NAME.test(name)) errors.add('metadata.name', 'is required: 1-200 letters, digits, spaces, ".", "_" or "-"');
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
  const rules = parseRules(spec['rules'], type, errors);
  const exemptions = parseExemptions(spec['exemptions'], type, errors);
  return {
    name: typeof name === 'string' ? name : '',
    description: typeof description === 'string' ? description : '',
    type,
    action: action === 'BLOCK' ? 'BLOCK' : 'AUDIT',
    scope: {
      cloudScopes: strings(sc['cloudScopes'], 'spec.scope.cloudScopes', errors),
      clusters: strings(sc['clusters'], 'spec.scope.clusters', errors),
      namespaces: { include: strings(nso['include'], 'spec.scope.namespaces.include', errors, nsCheck), exclude: strings(nso['exclude'], 'spec.scope.namespaces.exclude', errors, nsCheck) },
    },
    rules,
    exemptions,
  };
}

/** Splits the text into documents: JSON (object, array) or multi-document YAML. */
function documentsOf(text: string, source: string): { docs: unknown[] } | { error: PolicyFileError } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const value: unknown = JSON.parse(text);
      return { docs: Array.isArray(value) ? value : [value] };
    } catch (err) {
      return { error: { source, document: 0, field: '(json)', message: `${source}: document 0: not valid JSON: ${(err as Error).message}` } };
    }
  }
  const parsed = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const docs: unknown[] = [];
  for (const [i, d] of list.entries()) {
    if (d.errors.length) {
      const e = d.errors[0]!;
      const line = e.linePos?.[0]?.line;
      return { error: { source, document: i, field: '(yaml)', message: `${source}: document ${i}${line ? `: line ${line}` : ''}: ${e.message.split('\n')[0]}` } };
    }
    const value: unknown = d.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) docs.push(value);
  }
  return { docs };
}

export function parsePolicyDocuments(text: string, source: string): PolicyFileResult {
  const split = documentsOf(text, source);
  if ('error' in split) return { ok: false, errors: [split.error] };
  const docs = split.docs.flatMap((d) => (isObject(d) && d['kind'] === 'List' && Array.isArray(d['items']) ? d['items'] : [d]));
  if (docs.length === 0) return { ok: false, errors: [{ source, document: 0, field: '(document)', message: `${source}: no policy documents found` }] };
  const policies: PolicyDocument[] = [];
  const errors: PolicyFileError[] = [];
  const names = new Map<string, number>();
  docs.forEach((d, i) => {
    const e = new DocumentErrors(source, i);
    const p = parseDocument(d, e);
    if (p && names.has(p.name)) e.add('metadata.name', `"${p.name}" is also the name of document ${names.get(p.name)}`);
    if (p) names.set(p.name, i);
    errors.push(...e.list);
    if (p && e.list.length === 0) policies.push(p);
  });
  return errors.length ? { ok: false, errors } : { ok: true, policies };
}

/** The engine's policy for a parsed document (enabled rules only; ids are the caller's). */
export function toPolicy(doc: PolicyDocument, id: string): Policy {
  return {
    id,
    name: doc.name,
    type: doc.type,
    action: doc.action,
    namespaces: doc.scope.namespaces,
    rules: doc.rules,
    exemptions: doc.exemptions.map((e, i) => ({ ...e, id: e.id ?? `${id}#${i}` })),
  };
}

/** Writes policies in the file format; parsePolicyDocuments(serializePolicyDocuments(p)) gives p back. */
export function serializePolicyDocuments(policies: readonly PolicyDocument[]): string {
  return policies
    .map((p) => {
      const doc = {
        apiVersion: API_VERSION,
        kind: 'Policy',
        metadata: { name: p.name, ...(p.description ? { description: p.description } : {}) },
        spec: {
          type: p.type,
          action: p.action,
          scope: {
            ...(p.scope.cloudScopes.length ? { cloudScopes: [...p.scope.cloudScopes] } : {}),
            ...(p.scope.clusters.length ? { clusters: [...p.scope.clusters] } : {}),
            namespaces: { include: [...p.scope.namespaces.include], exclude: [...p.scope.namespaces.exclude] },
          },
          rules: [...p.rules].sort((a, b) => a.id.localeCompare(b.id)).map((r) => ({ id: r.id, ...(Object.keys(nonDefault(r)).length ? { params: nonDefault(r) } : {}) })),
          ...(p.exemptions.length
            ? {
                exemptions: p.exemptions.map((e) => ({
                  ...(e.namespaces?.length ? { namespaces: [...e.namespaces] } : {}),
                  ...(e.kinds?.length ? { kinds: [...e.kinds] } : {}),
                  ...(e.names?.length ? { names: [...e.names] } : {}),
                  ...(e.images?.length ? { images: [...e.images] } : {}),
                  ...(e.labelSelector && Object.keys(e.labelSelector).length ? { labelSelector: { ...e.labelSelector } } : {}),
                  ...(e.cves?.length ? { cves: [...e.cves] } : {}),
                  ...(e.rules?.length ? { rules: [...e.rules] } : {}),
                  match: e.match,
                  reason: e.reason,
                  grantedBy: e.grantedBy,
                  ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
                })),
              }
            : {}),
        },
      };
      return YAML.stringify(doc, { lineWidth: 0 });
    })
    .join('---\n');
}

/** Parameters that differ from the rule's defaults: policy files stay short. */
function nonDefault(rule: RuleConfig): Record<string, unknown> {
  const defaults = (findRule(rule.id)?.parameters.properties ?? {}) as Record<string, { default?: unknown }>;
  return Object.fromEntries(Object.entries(rule.params).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(defaults[k]?.default ?? null)));
}
