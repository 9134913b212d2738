/**
 * What kube-apiserver's ValidatingAdmissionPolicy plugin decides for one admission request,
 * given the VAP and binding objects (admissionregistration.k8s.io/v1, plain JSON): matching
 * (matchConstraints, binding matchResources, namespace/object selectors, exclusions,
 * matchPolicy), matchConditions, variables, validations with message/messageExpression/reason,
 * failurePolicy, validationActions (Deny / Warn / Audit) and auditAnnotations, after
 * k8s.io/apiserver/pkg/admission/plugin/policy/validating (dispatcher.go, validator.go) and
 * .../policy/matching. No paramKind support: a policy with one reports a configuration error.
 */
import { CEL_RESERVED, CelCompileError, CelEvalError, compileCel, toCelValue, type CelProgram } from './cel';
import { celMap, type CelValue } from '@bufbuild/cel';

type Json = Record<string, unknown>;

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}
export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/** An admission request, shaped as AdmissionReview's `request` (plus the namespace object) */
export interface VapRequest {
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly object?: Json | null;
  readonly oldObject?: Json | null;
  readonly namespace?: string;
  readonly name?: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly requestKind?: GroupVersionKind;
  readonly requestResource?: GroupVersionResource;
  readonly requestSubResource?: string;
  readonly userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  readonly dryRun?: boolean;
  readonly options?: Json | null;
  readonly uid?: string;
}

export interface VapEvaluateOptions {
  /** the request's Namespace object (namespaceSelector and `namespaceObject`); null/absent for cluster-scoped */
  readonly namespaceObject?: Json | null;
}

export interface VapDenial {
  readonly policy: string;
  readonly binding: string;
  readonly message: string;
  readonly reason: string;
  readonly code: number;
  /** index of the validation that failed; undefined for a matchCondition/configuration error */
  readonly expressionIndex?: number;
}
export interface VapAuditEntry {
  readonly policy: string;
  readonly binding: string;
  readonly message: string;
  readonly expressionIndex?: number;
  readonly validationActions: readonly string[];
}
export interface VapError {
  readonly policy: string;
  readonly binding?: string;
  /** where: matchConditions[i], validations[i].expression, variables[name], … */
  readonly where: string;
  readonly message: string;
}
export interface VapOutcome {
  /** false when any Deny binding denied (or failed closed) */
  readonly allowed: boolean;
  readonly denials: readonly VapDenial[];
  /** warnings as kube-apiserver returns them to the client */
  readonly warnings: readonly string[];
  /** entries of the `validation.policy.admission.k8s.io/validation_failure` audit annotation */
  readonly audit: readonly VapAuditEntry[];
  /** audit annotations from spec.auditAnnotations, keyed `<policy>/<key>` */
  readonly auditAnnotations: Readonly<Record<string, string>>;
  /** evaluation and configuration errors met, whatever failurePolicy made of them */
  readonly errors: readonly VapError[];
  /** the Status the API answers when not allowed (first denial, as kube-apiserver does) */
  readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
  /** which policy/binding pairs matched the request and got their validations evaluated */
  readonly evaluated: ReadonlyArray<{ readonly policy: string; readonly binding: string }>;
}

// ---------------------------------------------------------------------------------------------
// matching

const EQUIVALENT: ReadonlyArray<{ resources: readonly string[]; groupVersions: readonly string[] }> = [
  { resources: ['deployments'], groupVersions: ['apps/v1', 'apps/v1beta1', 'apps/v1beta2', 'extensions/v1beta1'] },
  { resources: ['daemonsets', 'replicasets'], groupVersions: ['apps/v1', 'apps/v1beta2', 'extensions/v1beta1'] },
  { resources: ['statefulsets'], groupVersions: ['apps/v1', 'apps/v1beta1', 'apps/v1beta2'] },
  { resources: ['cronjobs'], groupVersions: ['batch/v1', 'batch/v1beta1'] },
  {
    resources: ['ingresses'],
    groupVersions: ['networking.k8s.io/v1', 'networking.k8s.io/v1beta1', 'extensions/v1beta1'],
  },
];

interface Attrs {
  readonly operation: string;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subResource: string;
  readonly namespace: string;
  readonly name: string;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function ruleMatches(rule: Json, a: Attrs): boolean {
  const ops = strings(rule['operations']);
  if (!ops.includes('*') && !ops.includes(a.operation)) return false;
  const groups = strings(rule['apiGroups']);
  if (!groups.includes('*') && !groups.includes(a.group)) return false;
  const versions = strings(rule['apiVersions']);
  if (!versions.includes('*') && !versions.includes(a.version)) return false;
  const resourceMatch = strings(rule['resources']).some((r) => {
    const slash = r.indexOf('/');
    const res = slash < 0 ? r : r.slice(0, slash);
    const sub = slash < 0 ? '' : r.slice(slash + 1);
    return (res === '*' || res === a.resource) && (sub === '*' || sub === a.subResource);
  });
  if (!resourceMatch) return false;
  const scope = typeof rule['scope'] === 'string' ? rule['scope'] : '*';
  if (scope === 'Namespaced' && (a.resource === 'namespaces' || a.namespace === '')) return false;
  if (scope === 'Cluster' && !(a.resource === 'namespaces' || a.namespace === '')) return false;
  const names = strings(rule['resourceNames']);
  if (names.length > 0 && !names.includes(a.name)) return false;
  return true;
}

function rulesMatch(rules: unknown, matchPolicy: string, a: Attrs): boolean {
  const list = Array.isArray(rules) ? (rules as Json[]) : [];
  if (list.some((r) => ruleMatches(r, a))) return true;
  if (matchPolicy === 'Exact') return false;
  const gv = `${a.group ? a.group + '/' : ''}${a.version}`;
  const eq = EQUIVALENT.find((e) => e.resources.includes(a.resource) && e.groupVersions.includes(gv));
  if (!eq) return false;
  return eq.groupVersions.some((other) => {
    if (other === gv) return false;
    const [g, v] = other.includes('/') ? (other.split('/') as [string, string]) : ['', other];
    return list.some((r) => ruleMatches(r, { ...a, group: g, version: v }));
  });
}

function labelsOf(obj: Json | null | undefined): Record<string, string> | undefined {
  if (!obj) return undefined;
  const meta = obj['metadata'];
  if (!meta || typeof meta !== 'object') return {};
  const labels = (meta as Json)['labels'];
  return labels && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

/** metav1.LabelSelector semantics; throws on an invalid operator */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!selector || typeof selector !== 'object') return true;
  const s = selector as Json;
  const ml = s['matchLabels'];
  if (ml && typeof ml === 'object') {
    for (const [k, v] of Object.entries(ml as Record<string, string>)) if (labels[k] !== v) return false;
  }
  const exprs = Array.isArray(s['matchExpressions']) ? (s['matchExpressions'] as Json[]) : [];
  for (const e of exprs) {
    const key = String(e['key']);
    const values = strings(e['values']);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (e['operator']) {
      case 'In':
        if (!has || !values.includes(labels[key] as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`invalid label selector operator ${JSON.stringify(e['operator'])}`);
    }
  }
  return true;
}

function isEmptySelector(selector: unknown): boolean {
  if (!selector || typeof selector !== 'object') return true;
  const s = selector as Json;
  const ml = s['matchLabels'];
  const me = s['matchExpressions'];
  return (!ml || Object.keys(ml as Json).length === 0) && (!Array.isArray(me) || me.length === 0);
}

/** Matches one MatchResources against the request; throws (configuration/lookup error) as Kubernetes' matcher errors */
function matchResources(
  mr: Json,
  req: VapRequest,
  a: Attrs,
  ns: Json | null | undefined,
  requireRules: boolean,
): boolean {
  // namespaceSelector
  const nsSel = mr['namespaceSelector'];
  let nsError: Error | undefined;
  if (!isEmptySelector(nsSel) && !(a.namespace === '' && a.resource !== 'namespaces')) {
    let labels: Record<string, string> | undefined;
    if (req.kind.group === '' && req.kind.kind === 'Namespace' && a.subResource === '') {
      labels = labelsOf(req.operation === 'DELETE' ? req.oldObject : req.object);
    } else labels = labelsOf(ns);
    if (!labels)
      nsError = new Error(`namespace "${a.namespace}" not found: the namespaceSelector needs the Namespace object`);
    else if (!selectorMatches(nsSel, labels)) return false;
  }
  // objectSelector: the new or the old object matches
  const objSel = mr['objectSelector'];
  if (!isEmptySelector(objSel)) {
    const matchesObj = (o: Json | null | undefined): boolean => {
      const l = labelsOf(o);
      return l !== undefined && selectorMatches(objSel, l);
    };
    if (!matchesObj(req.object) && !matchesObj(req.oldObject)) return false;
  }
  const matchPolicy = typeof mr['matchPolicy'] === 'string' ? mr['matchPolicy'] : 'Equivalent';
  if (rulesMatch(mr['excludeResourceRules'], matchPolicy, a)) return false;
  const rules = mr['resourceRules'];
  const constrained = requireRules || (Array.isArray(rules) && rules.length > 0);
  const matched = !constrained || rulesMatch(rules, matchPolicy, a);
  if (nsError) throw nsError;
  return matched;
}

// ---------------------------------------------------------------------------------------------
// compiled programs, cached per expression text

const PROGRAMS = new Map<string, CelProgram | CelCompileError>();
function program(expression: string): CelProgram {
  let p = PROGRAMS.get(expression);
  if (!p) {
    try {
      p = compileCel(expression);
    } catch (e) {
      p = e instanceof CelCompileError ? e : new CelCompileError(String(e));
    }
    if (PROGRAMS.size > 20_000) PROGRAMS.clear();
    PROGRAMS.set(expression, p);
  }
  if (p instanceof CelCompileError) throw p;
  return p;
}

type EvalResult = { ok: true; value: CelValue } | { ok: false; error: string };
function evaluate(expression: unknown, bindings: Record<string, CelValue>): EvalResult {
  if (typeof expression !== 'string') return { ok: false, error: 'expression is not a string' };
  try {
    return { ok: true, value: program(expression)(bindings) };
  } catch (e) {
    if (e instanceof CelCompileError || e instanceof CelEvalError) return { ok: false, error: e.message };
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** `variables`: each evaluated on first use, in the order declared, errors surfacing where used */
class LazyVariables extends Map<string, CelValue> {
  private readonly done = new Map<string, EvalResult>();
  private bindings: Record<string, CelValue> = {};
  readonly failures: Array<{ name: string; error: string }> = [];
  constructor(private readonly decls: ReadonlyArray<{ name: string; expression: unknown }>) {
    super();
  }
  bind(bindings: Record<string, CelValue>): void {
    this.bindings = bindings;
  }
  private resolve(name: string): EvalResult | undefined {
    const decl = this.decls.find((d) => d.name === name);
    if (!decl) return undefined;
    let r = this.done.get(name);
    if (!r) {
      r = evaluate(decl.expression, this.bindings);
      this.done.set(name, r);
      if (!r.ok) this.failures.push({ name, error: r.error });
    }
    return r;
  }
  override get(name: string): CelValue | undefined {
    const r = this.resolve(name);
    return r && r.ok ? r.value : undefined;
  }
  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  override get size(): number {
    return this.decls.length;
  }
  override *entries(): MapIterator<[string, CelValue]> {
    for (const d of this.decls) {
      const v = this.get(d.name);
      if (v !== undefined) yield [d.name, v];
    }
  }
  override keys(): MapIterator<string> {
    return this.decls.map((d) => d.name)[Symbol.iterator]();
  }
}

const REASON_CODES: Readonly<Record<string, number>> = {
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 422,
  RequestEntityTooLarge: 413,
};
const MAX_MESSAGE_BYTES = 5 * 1024;

function gvk(v: unknown): GroupVersionKind {
  const o = (v ?? {}) as Json;
  return { group: String(o['group'] ?? ''), version: String(o['version'] ?? ''), kind: String(o['kind'] ?? '') };
}
function gvr(v: unknown): GroupVersionResource {
  const o = (v ?? {}) as Json;
  return {
    group: String(o['group'] ?? ''),
    version: String(o['version'] ?? ''),
    resource: String(o['resource'] ?? ''),
  };
}

function requestValue(req: VapRequest): CelValue {
  const user = req.userInfo ?? {};
  return toCelValue({
    uid: req.uid ?? '',
    kind: gvk(req.kind),
    resource: gvr(req.resource),
    subResource: req.subResource ?? '',
    requestKind: gvk(req.requestKind ?? req.kind),
    requestResource: gvr(req.requestResource ?? req.resource),
    requestSubResource: req.requestSubResource ?? req.subResource ?? '',
    name: req.name ?? '',
    namespace: req.namespace ?? '',
    operation: req.operation,
    userInfo: {
      username: user.username ?? '',
      uid: user.uid ?? '',
      groups: user.groups ?? [],
      extra: user.extra ?? {},
    },
    dryRun: req.dryRun ?? false,
    options: req.options ?? null,
  });
}

function nameOf(o: Json): string {
  const meta = o['metadata'];
  return meta && typeof meta === 'object' ? String((meta as Json)['name'] ?? '') : '';
}

/** Evaluates the request against every ValidatingAdmissionPolicy in `objects` through its bindings */
export function evaluateVap(
  objects: ReadonlyArray<Json>,
  request: VapRequest,
  options: VapEvaluateOptions = {},
): VapOutcome {
  const policies = objects.filter((o) => o['kind'] === 'ValidatingAdmissionPolicy');
  const bindings = objects.filter((o) => o['kind'] === 'ValidatingAdmissionPolicyBinding');
  const denials: VapDenial[] = [];
  const warnings: string[] = [];
  const audit: VapAuditEntry[] = [];
  const auditAnnotations: Record<string, string> = {};
  const errors: VapError[] = [];
  const evaluated: Array<{ policy: string; binding: string }> = [];

  const obj = request.object ?? null;
  const attrs: Attrs = {
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    subResource: request.subResource ?? '',
    namespace: request.namespace ?? '',
    name: request.name ?? (obj ? nameOf(obj) : ''),
  };
  const nsObject = attrs.namespace === '' ? null : (options.namespaceObject ?? null);
  const base: Record<string, CelValue> = {
    object: toCelValue(escapeFields(normalizeQuantities(obj))),
    oldObject: toCelValue(escapeFields(normalizeQuantities(request.oldObject ?? null))),
    request: requestValue(request),
    params: null,
    namespaceObject: toCelValue(escapeFields(nsObject)),
  };

  for (const policy of policies) {
    const pName = nameOf(policy);
    const spec = (policy['spec'] ?? {}) as Json;
    const failClosed = (spec['failurePolicy'] ?? 'Fail') === 'Fail';
    const policyBindings = bindings.filter((b) => ((b['spec'] ?? {}) as Json)['policyName'] === pName);
    if (policyBindings.length === 0) continue;

    // a decision that is not a plain "allow" goes through the binding's validationActions
    const decide = (
      binding: string,
      actions: readonly string[],
      message: string,
      reason: string,
      expressionIndex?: number,
    ): void => {
      for (const action of actions) {
        if (action === 'Deny')
          denials.push({ policy: pName, binding, message, reason, code: REASON_CODES[reason] ?? 400, expressionIndex });
        else if (action === 'Warn')
          warnings.push(
            `Validation failed for ValidatingAdmissionPolicy '${pName}' with binding '${binding}': ${message}`,
          );
        else if (action === 'Audit')
          audit.push({ policy: pName, binding, message, expressionIndex, validationActions: actions });
      }
    };
    const onError = (
      binding: string,
      actions: readonly string[],
      where: string,
      message: string,
      idx?: number,
    ): void => {
      errors.push({ policy: pName, binding, where, message });
      if (failClosed) decide(binding, actions, message, 'Invalid', idx);
    };

    let policyMatches: boolean;
    try {
      const constraints = spec['matchConstraints'];
      policyMatches =
        !!constraints &&
        typeof constraints === 'object' &&
        matchResources(constraints as Json, request, attrs, nsObject, true);
    } catch (e) {
      // a matcher error fails the policy per failurePolicy, for each binding
      for (const b of policyBindings)
        onError(
          nameOf(b),
          strings(((b['spec'] ?? {}) as Json)['validationActions']),
          'matchConstraints',
          (e as Error).message,
        );
      continue;
    }
    if (!policyMatches) continue;

    for (const b of policyBindings) {
      const bName = nameOf(b);
      const bSpec = (b['spec'] ?? {}) as Json;
      const actions = strings(bSpec['validationActions']);
      try {
        const mr = bSpec['matchResources'];
        if (mr && typeof mr === 'object' && !matchResources(mr as Json, request, attrs, nsObject, false)) continue;
      } catch (e) {
        onError(bName, actions, 'binding matchResources', (e as Error).message);
        continue;
      }
      if (spec['paramKind']) {
        onError(
          bName,
          actions,
          'paramKind',
          `policy '${pName}' has a paramKind: params are not supported by this runtime`,
        );
        continue;
      }

      // matchConditions: any false skips; else any error follows failurePolicy
      const conditions = Array.isArray(spec['matchConditions']) ? (spec['matchConditions'] as Json[]) : [];
      let skip = false;
      let conditionError: string | undefined;
      for (const [i, mc] of conditions.entries()) {
        const r = evaluate(mc['expression'], base);
        if (!r.ok) {
          conditionError ??= `failed to evaluate matchConditions[${i}] '${String(mc['name'])}': ${r.error}`;
          continue;
        }
        if (typeof r.value !== 'boolean') {
          conditionError ??= `matchConditions[${i}] '${String(mc['name'])}' must evaluate to bool`;
          continue;
        }
        if (!r.value) {
          skip = true;
          break;
        }
      }
      if (skip) continue;
      if (conditionError !== undefined) {
        onError(bName, actions, 'matchConditions', conditionError);
        continue;
      }
      evaluated.push({ policy: pName, binding: bName });

      const decls = (Array.isArray(spec['variables']) ? (spec['variables'] as Json[]) : []).map((v) => ({
        name: String(v['name']),
        expression: v['expression'],
      }));
      const variables = new LazyVariables(decls);
      const scope: Record<string, CelValue> = { ...base, variables: celMap(variables) };
      variables.bind(scope);
      const withVariableErrors = (error: string): string => {
        const failed = variables.failures.map((f) => `variables.${f.name}: ${f.error}`);
        return failed.length > 0 ? `${error} (${failed.join('; ')})` : error;
      };

      const validations = Array.isArray(spec['validations']) ? (spec['validations'] as Json[]) : [];
      for (const [i, v] of validations.entries()) {
        const expression = String(v['expression'] ?? '');
        const r = evaluate(v['expression'], scope);
        if (!r.ok || typeof r.value !== 'boolean') {
          const why = r.ok ? 'expression must evaluate to bool' : withVariableErrors(r.error);
          onError(
            bName,
            actions,
            `validations[${i}].expression`,
            `expression '${expression}' resulted in error: ${why}`,
            i,
          );
          continue;
        }
        if (r.value) continue;
        let message = '';
        if (typeof v['messageExpression'] === 'string') {
          const m = evaluate(v['messageExpression'], scope);
          if (m.ok && typeof m.value === 'string') {
            const trimmed = m.value.trim();
            if (Buffer.byteLength(trimmed) <= MAX_MESSAGE_BYTES && !trimmed.includes('\n')) message = trimmed;
          } else if (!m.ok)
            errors.push({
              policy: pName,
              binding: bName,
              where: `validations[${i}].messageExpression`,
              message: m.error,
            });
        }
        if (!message && typeof v['message'] === 'string') message = v['message'].trim();
        if (!message) message = `failed expression: ${expression.trim()}`;
        decide(bName, actions, message, typeof v['reason'] === 'string' ? v['reason'] : 'Invalid', i);
      }

      const annotations = Array.isArray(spec['auditAnnotations']) ? (spec['auditAnnotations'] as Json[]) : [];
      for (const a of annotations) {
        const key = `${pName}/${String(a['key'])}`;
        const r = evaluate(a['valueExpression'], scope);
        if (!r.ok) {
          onError(bName, ['Deny'], `auditAnnotations[${String(a['key'])}]`, withVariableErrors(r.error));
          continue;
        }
        if (r.value === null) continue;
        if (typeof r.value !== 'string') {
          onError(
            bName,
            [],
            `auditAnnotations[${String(a['key'])}]`,
            'valueExpression must evaluate to string or null',
          );
          continue;
        }
        if (!(key in auditAnnotations)) auditAnnotations[key] = r.value;
      }
    }
  }

  const first = denials[0];
  return {
    allowed: denials.length === 0,
    denials,
    warnings,
    audit,
    auditAnnotations,
    errors,
    evaluated,
    ...(first
      ? {
          status: {
            code: first.code,
            reason: first.reason,
            message: `ValidatingAdmissionPolicy '${first.policy}' with binding '${first.binding}' denied request: ${first.message}`,
          },
        }
      : {}),
  };
}

/**
 * Quantities as the API server holds them: a typed decode turns a number written for a
 * resource.Quantity (`cpu: 1`) into its string form, so CEL sees `"1"`, never an int.
 */
function normalizeQuantities(obj: Json | null): Json | null {
  if (!obj) return obj;
  const walk = (v: unknown, key: string, parentKey: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, '', ''));
    if (v && typeof v === 'object') {
      const out: Json = {};
      for (const [k, x] of Object.entries(v as Json)) out[k] = walk(x, k, key);
      return out;
    }
    const inQuantityMap =
      (parentKey === 'limits' || parentKey === 'requests' || parentKey === 'overhead') && key !== '';
    if (typeof v === 'number' && (inQuantityMap || key === 'sizeLimit')) return String(v);
    return v;
  };
  return walk(obj, '', '') as Json;
}

/** fields whose value is a map (string keys of the user's choosing), whose keys are not escaped */
const MAP_FIELDS = new Set([
  'labels',
  'annotations',
  'nodeSelector',
  'limits',
  'requests',
  'overhead',
  'matchLabels',
  'data',
  'binaryData',
  'stringData',
  'capacity',
  'allocatable',
  'hard',
  'used',
  'parameters',
  'volumeAttributes',
]);

/**
 * Kubernetes' CEL property-name escaping (k8s.io/apiserver/pkg/cel/escaping.go): an object
 * field named like a CEL reserved word is reachable only as `__<word>__` (so
 * `object.metadata.namespace` is not a field; `object.metadata.__namespace__` is), `__` `.`
 * `-` `/` in a name become `__underscores__` `__dot__` `__dash__` `__slash__`, and a name with
 * any other character (or a leading digit) is not reachable at all. Map keys (labels, …) stay.
 */
export function escapeFieldName(name: string): string | undefined {
  if (name.length === 0 || ((name[0] as string) >= '0' && (name[0] as string) <= '9')) return undefined;
  if (CEL_RESERVED.has(name)) return `__${name}__`;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i] as string;
    if (c === '_' && name[i + 1] === '_') {
      out += '__underscores__';
      i++;
    } else if (c === '.') out += '__dot__';
    else if (c === '-') out += '__dash__';
    else if (c === '/') out += '__slash__';
    else if (/[a-zA-Z0-9_]/.test(c)) out += c;
    else return undefined;
  }
  return out;
}

function escapeFields(obj: Json | null): Json | null {
  if (!obj) return obj;
  const walk = (v: unknown, isMap: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      const key = isMap ? k : escapeFieldName(k);
      if (key !== undefined) out[key] = walk(x, MAP_FIELDS.has(k) && !isMap);
    }
    return out;
  };
  return walk(obj, false) as Json;
}

const PLURALS: Readonly<Record<string, string>> = {
  Ingress: 'ingresses',
  NetworkPolicy: 'networkpolicies',
  PodSecurityPolicy: 'podsecuritypolicies',
  Endpoints: 'endpoints',
};

/**
 * An admission request for an object, as kube-apiserver would build it for `operation`
 * (kind/resource from apiVersion/kind; the namespace from metadata or `namespace`).
 */
export function vapRequestFor(
  object: Json,
  options: {
    operation?: VapRequest['operation'];
    oldObject?: Json | null;
    namespace?: string;
    subResource?: string;
    userInfo?: VapRequest['userInfo'];
  } = {},
): VapRequest {
  const apiVersion = String(object['apiVersion'] ?? 'v1');
  const kind = String(object['kind'] ?? '');
  const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
  const lower = kind.toLowerCase();
  const resource =
    PLURALS[kind] ??
    (lower.endsWith('s') ? lower + 'es' : lower.endsWith('y') ? lower.slice(0, -1) + 'ies' : lower + 's');
  const meta = (object['metadata'] ?? {}) as Json;
  const clusterScoped =
    kind === 'Namespace' || kind === 'Node' || kind === 'ClusterRole' || kind === 'ClusterRoleBinding';
  const namespace = clusterScoped
    ? kind === 'Namespace'
      ? String(meta['name'] ?? '')
      : ''
    : (options.namespace ?? String(meta['namespace'] ?? 'default'));
  return {
    operation: options.operation ?? 'CREATE',
    object,
    oldObject: options.oldObject ?? null,
    namespace,
    name: String(meta['name'] ?? ''),
    kind: { group, version, kind },
    resource: { group, version, resource },
    subResource: options.subResource ?? '',
    userInfo: options.userInfo ?? { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
    dryRun: false,
  };
}
