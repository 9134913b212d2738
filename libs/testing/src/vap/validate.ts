/**
 * Validation of ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding objects
 * (admissionregistration.k8s.io/v1): Kubernetes' OpenAPI schema (through kubernetes-models'
 * validators), no field outside it (as a strict server-side apply refuses), and the rules
 * kube-apiserver's validation (pkg/apis/admissionregistration/validation) enforces beyond the
 * schema that a generator can get wrong. Each error names its path.
 */
import { parse } from '@bufbuild/cel';
import { CEL_RESERVED, rewriteOptionals } from './cel';

type Json = Record<string, unknown>;

export interface VapValidationError {
  /** e.g. spec.validations[0].expression */
  readonly path: string;
  readonly message: string;
}

type Model = new (data: Json) => { validate(): void };
// kubernetes-models is ESM-only: loaded as such (the build emits CommonJS, which would turn import() into require())
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<Record<string, unknown>>;
let models: Promise<Record<string, unknown>> | undefined;

// the fields the v1 schema defines, for the unknown-field check ('*' = any keys, value unchecked)
type Fields = { readonly [k: string]: Fields | 'leaf' | { readonly items: Fields } };
const LABEL_SELECTOR: Fields = {
  matchLabels: 'leaf',
  matchExpressions: { items: { key: 'leaf', operator: 'leaf', values: 'leaf' } },
};
const RULE: Fields = {
  apiGroups: 'leaf',
  apiVersions: 'leaf',
  operations: 'leaf',
  resources: 'leaf',
  resourceNames: 'leaf',
  scope: 'leaf',
};
const MATCH_RESOURCES: Fields = {
  namespaceSelector: LABEL_SELECTOR,
  objectSelector: LABEL_SELECTOR,
  resourceRules: { items: RULE },
  excludeResourceRules: { items: RULE },
  matchPolicy: 'leaf',
};
const METADATA: Fields = {
  name: 'leaf',
  generateName: 'leaf',
  namespace: 'leaf',
  labels: 'leaf',
  annotations: 'leaf',
  uid: 'leaf',
  resourceVersion: 'leaf',
  generation: 'leaf',
  creationTimestamp: 'leaf',
  deletionTimestamp: 'leaf',
  deletionGracePeriodSeconds: 'leaf',
  finalizers: 'leaf',
  managedFields: 'leaf',
  ownerReferences: 'leaf',
  selfLink: 'leaf',
};
const POLICY: Fields = {
  apiVersion: 'leaf',
  kind: 'leaf',
  metadata: METADATA,
  status: 'leaf',
  spec: {
    paramKind: { apiVersion: 'leaf', kind: 'leaf' },
    matchConstraints: MATCH_RESOURCES,
    validations: { items: { expression: 'leaf', message: 'leaf', messageExpression: 'leaf', reason: 'leaf' } },
    failurePolicy: 'leaf',
    auditAnnotations: { items: { key: 'leaf', valueExpression: 'leaf' } },
    matchConditions: { items: { name: 'leaf', expression: 'leaf' } },
    variables: { items: { name: 'leaf', expression: 'leaf' } },
  },
};
const BINDING: Fields = {
  apiVersion: 'leaf',
  kind: 'leaf',
  metadata: METADATA,
  spec: {
    policyName: 'leaf',
    paramRef: { name: 'leaf', namespace: 'leaf', selector: LABEL_SELECTOR, parameterNotFoundAction: 'leaf' },
    matchResources: MATCH_RESOURCES,
    validationActions: 'leaf',
  },
};

function unknownFields(value: unknown, fields: Fields, path: string, out: VapValidationError[]): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value as Json)) {
    const spec = fields[k];
    const p = path ? `${path}.${k}` : k;
    if (spec === undefined) out.push({ path: p, message: `unknown field "${k}"` });
    else if (spec === 'leaf') continue;
    else if ('items' in spec && typeof spec.items === 'object') {
      if (Array.isArray(v)) v.forEach((x, i) => unknownFields(x, spec.items as Fields, `${p}[${i}]`, out));
    } else unknownFields(v, spec as Fields, p, out);
  }
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CEL_IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const OPERATIONS = new Set(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const REASONS = new Set(['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge']);

function dnsSubdomain(name: unknown, path: string, out: VapValidationError[]): void {
  if (typeof name !== 'string' || name.length === 0) out.push({ path, message: 'Required value' });
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    out.push({
      path,
      message: `${JSON.stringify(name)} is not a DNS subdomain (lowercase alphanumerics, '-' and '.', at most 253)`,
    });
}

function qualifiedName(key: string, path: string, out: VapValidationError[]): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? '' : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    out.push({ path, message: `${JSON.stringify(key)}: prefix must be a DNS subdomain` });
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name))
    out.push({
      path,
      message: `${JSON.stringify(key)}: name part must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric`,
    });
}

function metadata(obj: Json, out: VapValidationError[]): void {
  const meta = (obj['metadata'] ?? {}) as Json;
  dnsSubdomain(meta['name'], 'metadata.name', out);
  const labels = meta['labels'];
  if (labels && typeof labels === 'object')
    for (const [k, v] of Object.entries(labels as Json)) {
      qualifiedName(k, `metadata.labels[${k}]`, out);
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
        out.push({
          path: `metadata.labels[${k}]`,
          message: `label value ${JSON.stringify(v)} is invalid (at most 63 alphanumerics, '-', '_', '.')`,
        });
    }
}

function identifiers(node: unknown, into: Set<string>, selectsOnVariables: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { exprKind?: { case?: string; value?: Json } };
  if (n.exprKind?.case === 'identExpr') into.add(String(n.exprKind.value?.['name']));
  if (n.exprKind?.case === 'selectExpr') {
    const operand = n.exprKind.value?.['operand'] as { exprKind?: { case?: string; value?: Json } } | undefined;
    if (operand?.exprKind?.case === 'identExpr' && operand.exprKind.value?.['name'] === 'variables')
      selectsOnVariables.add(String(n.exprKind.value?.['field']));
  }
  for (const v of Object.values(n.exprKind?.value ?? {})) {
    if (Array.isArray(v)) v.forEach((x) => identifiers(x, into, selectsOnVariables));
    else if (v && typeof v === 'object') {
      if ('exprKind' in v) identifiers(v, into, selectsOnVariables);
      else for (const w of Object.values(v as Json)) identifiers(w, into, selectsOnVariables);
    }
  }
}

interface ExpressionScope {
  readonly hasParams: boolean;
  /** variables this expression may use; undefined where `variables` is not declared (matchConditions) */
  readonly variables?: ReadonlySet<string>;
}

function expression(value: unknown, path: string, scope: ExpressionScope, out: VapValidationError[]): void {
  if (typeof value !== 'string' || value.trim().length === 0) {
    out.push({ path, message: 'Required value: an expression' });
    return;
  }
  let ast: unknown;
  try {
    ast = parse(rewriteOptionals(value)).expr;
  } catch (e) {
    out.push({ path, message: `compilation failed: ${e instanceof Error ? e.message : String(e)}` });
    return;
  }
  const idents = new Set<string>();
  const vars = new Set<string>();
  identifiers(ast, idents, vars);
  // identifiers bound by comprehensions (and their accumulators) appear as idents too; only the
  // roots are checked: an undeclared root is a compile error in kube-apiserver
  if (idents.has('params') && !scope.hasParams)
    out.push({ path, message: "compilation failed: undeclared reference to 'params' (the policy has no paramKind)" });
  if (idents.has('variables') && !scope.variables)
    out.push({ path, message: "compilation failed: undeclared reference to 'variables' (not available here)" });
  if (scope.variables)
    for (const v of vars)
      if (!scope.variables.has(v))
        out.push({ path, message: `compilation failed: undefined field '${v}' (no such variable declared before)` });
}

function resourceRules(rules: unknown, path: string, required: boolean, out: VapValidationError[]): void {
  if (!Array.isArray(rules) || rules.length === 0) {
    if (required) out.push({ path, message: 'Required value: at least one resource rule' });
    return;
  }
  rules.forEach((r: Json, i) => {
    const p = `${path}[${i}]`;
    for (const k of ['apiGroups', 'apiVersions', 'operations', 'resources']) {
      const list = r[k];
      if (!Array.isArray(list) || list.length === 0) out.push({ path: `${p}.${k}`, message: 'Required value' });
      else if (list.includes('*') && list.length > 1 && k !== 'resources')
        out.push({ path: `${p}.${k}`, message: "if '*' is present, it must be the only entry" });
    }
    if (Array.isArray(r['operations']))
      (r['operations'] as unknown[]).forEach((o, j) => {
        if (typeof o !== 'string' || !OPERATIONS.has(o))
          out.push({ path: `${p}.operations[${j}]`, message: `unsupported operation ${JSON.stringify(o)}` });
      });
    if (Array.isArray(r['resources']))
      (r['resources'] as unknown[]).forEach((res, j) => {
        if (typeof res !== 'string' || res.length === 0)
          out.push({ path: `${p}.resources[${j}]`, message: 'Required value' });
        else if (res.split('/').length > 2)
          out.push({ path: `${p}.resources[${j}]`, message: `${JSON.stringify(res)}: at most one '/'` });
      });
    if (r['scope'] !== undefined && !['*', 'Cluster', 'Namespaced'].includes(String(r['scope'])))
      out.push({ path: `${p}.scope`, message: `unsupported scope ${JSON.stringify(r['scope'])}` });
  });
}

function matchResources(mr: unknown, path: string, required: boolean, out: VapValidationError[]): void {
  if (!mr || typeof mr !== 'object') {
    if (required) out.push({ path, message: 'Required value' });
    return;
  }
  const m = mr as Json;
  resourceRules(m['resourceRules'], `${path}.resourceRules`, required, out);
  resourceRules(m['excludeResourceRules'], `${path}.excludeResourceRules`, false, out);
}

function uniqueNames(items: Json[], key: string, path: string, out: VapValidationError[]): void {
  const seen = new Set<string>();
  items.forEach((it, i) => {
    const n = String(it[key]);
    if (seen.has(n)) out.push({ path: `${path}[${i}].${key}`, message: `Duplicate value: ${JSON.stringify(n)}` });
    seen.add(n);
  });
}

function policyRules(obj: Json, out: VapValidationError[]): void {
  const spec = (obj['spec'] ?? {}) as Json;
  matchResources(spec['matchConstraints'], 'spec.matchConstraints', true, out);
  const list = (k: string): Json[] => (Array.isArray(spec[k]) ? (spec[k] as Json[]) : []);
  const validations = list('validations');
  const annotations = list('auditAnnotations');
  if (validations.length === 0 && annotations.length === 0)
    out.push({
      path: 'spec.validations',
      message: 'Required value: validations or auditAnnotations must contain at least one item',
    });
  const hasParams = !!spec['paramKind'];

  const conditions = list('matchConditions');
  if (conditions.length > 64) out.push({ path: 'spec.matchConditions', message: 'Too many: at most 64' });
  uniqueNames(conditions, 'name', 'spec.matchConditions', out);
  conditions.forEach((c, i) => {
    qualifiedName(String(c['name'] ?? ''), `spec.matchConditions[${i}].name`, out);
    expression(c['expression'], `spec.matchConditions[${i}].expression`, { hasParams }, out);
  });

  const variables = list('variables');
  uniqueNames(variables, 'name', 'spec.variables', out);
  const declared = new Set<string>();
  variables.forEach((v, i) => {
    const name = String(v['name'] ?? '');
    if (!CEL_IDENTIFIER.test(name) || CEL_RESERVED.has(name))
      out.push({ path: `spec.variables[${i}].name`, message: `${JSON.stringify(name)} is not a valid CEL identifier` });
    expression(v['expression'], `spec.variables[${i}].expression`, { hasParams, variables: new Set(declared) }, out);
    declared.add(name);
  });

  validations.forEach((v, i) => {
    const p = `spec.validations[${i}]`;
    expression(v['expression'], `${p}.expression`, { hasParams, variables: declared }, out);
    if (v['messageExpression'] !== undefined)
      expression(v['messageExpression'], `${p}.messageExpression`, { hasParams, variables: declared }, out);
    if (typeof v['message'] === 'string' && /[\r\n]/.test(v['message']))
      out.push({ path: `${p}.message`, message: 'message must not contain line breaks' });
    if (v['reason'] !== undefined && !REASONS.has(String(v['reason'])))
      out.push({ path: `${p}.reason`, message: `unsupported reason ${JSON.stringify(v['reason'])}` });
  });

  uniqueNames(annotations, 'key', 'spec.auditAnnotations', out);
  const policyName = String(((obj['metadata'] ?? {}) as Json)['name'] ?? '');
  annotations.forEach((a, i) => {
    const key = String(a['key'] ?? '');
    if (!key || `${policyName}/${key}`.length > 253 + 1 + 63 || !QUALIFIED_NAME.test(key) || key.length > 63)
      out.push({
        path: `spec.auditAnnotations[${i}].key`,
        message: `${JSON.stringify(key)} is not a valid audit annotation key`,
      });
    expression(
      a['valueExpression'],
      `spec.auditAnnotations[${i}].valueExpression`,
      { hasParams, variables: declared },
      out,
    );
  });
}

function bindingRules(obj: Json, out: VapValidationError[]): void {
  const spec = (obj['spec'] ?? {}) as Json;
  dnsSubdomain(spec['policyName'], 'spec.policyName', out);
  const actions = spec['validationActions'];
  if (!Array.isArray(actions) || actions.length === 0)
    out.push({ path: 'spec.validationActions', message: 'Required value: at least one of Deny, Warn, Audit' });
  else {
    const seen = new Set<unknown>();
    actions.forEach((a, i) => {
      if (seen.has(a))
        out.push({ path: `spec.validationActions[${i}]`, message: `Duplicate value: ${JSON.stringify(a)}` });
      seen.add(a);
    });
    if (seen.has('Deny') && seen.has('Warn'))
      out.push({
        path: 'spec.validationActions',
        message:
          'Deny and Warn may not be used together: Deny already reports the message (use [Warn, Audit] or [Deny, Audit])',
      });
  }
  if (spec['matchResources'] !== undefined) matchResources(spec['matchResources'], 'spec.matchResources', false, out);
}

/** Validates one object; resolves to its errors ([] when valid) */
export async function validateVapObject(obj: Json): Promise<VapValidationError[]> {
  const out: VapValidationError[] = [];
  if (obj['apiVersion'] !== 'admissionregistration.k8s.io/v1')
    out.push({
      path: 'apiVersion',
      message: `must be admissionregistration.k8s.io/v1, not ${JSON.stringify(obj['apiVersion'])}`,
    });
  const kind = obj['kind'];
  if (kind !== 'ValidatingAdmissionPolicy' && kind !== 'ValidatingAdmissionPolicyBinding') {
    out.push({
      path: 'kind',
      message: `must be ValidatingAdmissionPolicy or ValidatingAdmissionPolicyBinding, not ${JSON.stringify(kind)}`,
    });
    return out;
  }
  models ??= importEsm('kubernetes-models/admissionregistration.k8s.io/v1');
  const ModelClass = (await models)[kind] as Model;
  try {
    new ModelClass(obj).validate();
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath?: string; message?: string; params?: unknown }> }).errors;
    if (Array.isArray(errors) && errors.length > 0)
      for (const err of errors)
        out.push({
          path:
            (err.instancePath ?? '')
              .replace(/^\//, '')
              .replace(/\/(\d+)(?=\/|$)/g, '[$1]')
              .replace(/\//g, '.') || '(root)',
          message: `${err.message ?? 'invalid'}${err.params && 'allowedValues' in (err.params as Json) ? ': ' + JSON.stringify((err.params as Json)['allowedValues']) : ''}`,
        });
    else out.push({ path: '(root)', message: e instanceof Error ? e.message : String(e) });
  }
  unknownFields(obj, kind === 'ValidatingAdmissionPolicy' ? POLICY : BINDING, '', out);
  metadata(obj, out);
  if (kind === 'ValidatingAdmissionPolicy') policyRules(obj, out);
  else bindingRules(obj, out);
  return out;
}
