import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateVap, vapRequestFor, type VapRequest } from '@portcullis/testing';

type Json = Record<string, unknown>;

function policy(name: string, spec: Json): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['pods'],
          },
        ],
      },
      ...spec,
    },
  };
}

function binding(name: string, policyName: string, validationActions: string[], extra: Json = {}): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName, validationActions, ...extra },
  };
}

function pod(privileged: boolean, extra: Json = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: {
      containers: [{ name: 'app', image: 'nginx:1.27', securityContext: { privileged } }],
      ...extra,
    },
  };
}

const NO_PRIVILEGED = policy('no-privileged', {
  validations: [
    {
      expression: 'object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))',
      messageExpression:
        "'privileged containers: ' + object.spec.containers.filter(c, c.?securityContext.?privileged.orValue(false)).map(c, c.name).join(', ')",
    },
  ],
});

describe('evaluateVap: bindings and validationActions', () => {
  it('a Deny binding denies a violating pod with the messageExpression, and allows a compliant one', () => {
    const objects = [NO_PRIVILEGED, binding('no-privileged-deny', 'no-privileged', ['Deny'])];
    const denied = evaluateVap(objects, vapRequestFor(pod(true)));
    assert.equal(denied.allowed, false);
    assert.deepEqual(
      denied.denials.map((d) => [d.policy, d.binding, d.message, d.code]),
      [['no-privileged', 'no-privileged-deny', 'privileged containers: app', 422]],
    );
    assert.equal(
      denied.status?.message,
      "ValidatingAdmissionPolicy 'no-privileged' with binding 'no-privileged-deny' denied request: privileged containers: app",
    );
    const allowed = evaluateVap(objects, vapRequestFor(pod(false)));
    assert.equal(allowed.allowed, true);
    assert.deepEqual(allowed.evaluated, [{ policy: 'no-privileged', binding: 'no-privileged-deny' }]);
  });

  it('Warn warns and Audit records, neither denies', () => {
    const r = evaluateVap(
      [NO_PRIVILEGED, binding('warn-audit', 'no-privileged', ['Warn', 'Audit'])],
      vapRequestFor(pod(true)),
    );
    assert.equal(r.allowed, true);
    assert.deepEqual(r.warnings, [
      "Validation failed for ValidatingAdmissionPolicy 'no-privileged' with binding 'warn-audit': privileged containers: app",
    ]);
    assert.equal(r.audit.length, 1);
    assert.deepEqual(r.audit[0]?.validationActions, ['Warn', 'Audit']);
    assert.equal(r.audit[0]?.expressionIndex, 0);
  });

  it('a policy without a binding, or bound by another name, does nothing', () => {
    assert.deepEqual(evaluateVap([NO_PRIVILEGED], vapRequestFor(pod(true))).evaluated, []);
    const r = evaluateVap([NO_PRIVILEGED, binding('b', 'other-policy', ['Deny'])], vapRequestFor(pod(true)));
    assert.equal(r.allowed, true);
    assert.deepEqual(r.evaluated, []);
  });

  it('message falls back to `message`, then to the expression; reason sets the status code', () => {
    const p = policy('p', {
      validations: [
        { expression: 'false', messageExpression: "''", message: 'static message' },
        { expression: ' 1 == 2 ', reason: 'Forbidden' },
        { expression: 'false', messageExpression: "'two\\nlines'", message: 'one line' },
      ],
    });
    const r = evaluateVap([p, binding('b', 'p', ['Deny'])], vapRequestFor(pod(false)));
    assert.deepEqual(
      r.denials.map((d) => [d.message, d.reason, d.code]),
      [
        ['static message', 'Invalid', 422],
        ['failed expression: 1 == 2', 'Forbidden', 403],
        ['one line', 'Invalid', 422],
      ],
    );
  });
});

describe('evaluateVap: matching', () => {
  it('matchConditions: one false skips the policy, all true evaluates it', () => {
    const p = policy('p', {
      matchConditions: [
        { name: 'not-kube-system', expression: "request.namespace != 'kube-system'" },
        { name: 'labelled', expression: "has(object.metadata.labels) && 'app' in object.metadata.labels" },
      ],
      validations: [{ expression: 'false', message: 'no' }],
    });
    const objects = [p, binding('b', 'p', ['Deny'])];
    assert.equal(evaluateVap(objects, vapRequestFor(pod(false))).allowed, false);
    assert.equal(evaluateVap(objects, vapRequestFor(pod(false), { namespace: 'kube-system' })).allowed, true);
    const unlabelled = pod(false);
    (unlabelled['metadata'] as Json)['labels'] = undefined;
    assert.equal(evaluateVap(objects, vapRequestFor(JSON.parse(JSON.stringify(unlabelled)) as Json)).allowed, true);
  });

  it('a matchCondition error follows failurePolicy unless another condition is false', () => {
    const conditions = [{ name: 'broken', expression: 'object.spec.nothing.here == 1' }];
    const fail = policy('p', { matchConditions: conditions, validations: [{ expression: 'true' }] });
    const r = evaluateVap([fail, binding('b', 'p', ['Deny'])], vapRequestFor(pod(false)));
    assert.equal(r.allowed, false);
    assert.match(r.denials[0]?.message ?? '', /matchConditions\[0\] 'broken'/);
    const ignore = policy('p', {
      failurePolicy: 'Ignore',
      matchConditions: conditions,
      validations: [{ expression: 'true' }],
    });
    const r2 = evaluateVap([ignore, binding('b', 'p', ['Deny'])], vapRequestFor(pod(false)));
    assert.equal(r2.allowed, true);
    assert.equal(r2.errors.length, 1);
    const withFalse = policy('p', {
      matchConditions: [...conditions, { name: 'never', expression: 'false' }],
      validations: [{ expression: 'false' }],
    });
    assert.equal(evaluateVap([withFalse, binding('b', 'p', ['Deny'])], vapRequestFor(pod(false))).allowed, true);
  });

  it('failurePolicy on a validation error: Fail denies (through the actions), Ignore admits and reports', () => {
    const v = [{ expression: 'object.spec.hostNetwork == false' }]; // no such key on this pod
    const failing = evaluateVap(
      [policy('p', { validations: v }), binding('b', 'p', ['Deny'])],
      vapRequestFor(pod(false)),
    );
    assert.equal(failing.allowed, false);
    assert.match(
      failing.denials[0]?.message ?? '',
      /^expression 'object.spec.hostNetwork == false' resulted in error: /,
    );
    const ignored = evaluateVap(
      [policy('p', { validations: v, failurePolicy: 'Ignore' }), binding('b', 'p', ['Deny'])],
      vapRequestFor(pod(false)),
    );
    assert.equal(ignored.allowed, true);
    assert.equal(ignored.errors[0]?.where, 'validations[0].expression');
    const warned = evaluateVap(
      [policy('p', { validations: v }), binding('b', 'p', ['Warn'])],
      vapRequestFor(pod(false)),
    );
    assert.equal(warned.allowed, true);
    assert.equal(warned.warnings.length, 1);
  });

  it('the pods/ephemeralcontainers subresource matches only a rule naming it', () => {
    const ephemeral = pod(false, {
      ephemeralContainers: [{ name: 'debug', image: 'busybox', securityContext: { privileged: true } }],
    });
    const check = {
      validations: [
        {
          expression:
            'object.spec.?ephemeralContainers.orValue([]).all(c, !c.?securityContext.?privileged.orValue(false))',
        },
      ],
    };
    const podsOnly = policy('p', check);
    const request: VapRequest = vapRequestFor(ephemeral, { operation: 'UPDATE', subResource: 'ephemeralcontainers' });
    assert.equal(evaluateVap([podsOnly, binding('b', 'p', ['Deny'])], request).allowed, true);
    const withSub = policy('p', {
      ...check,
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['pods', 'pods/ephemeralcontainers'],
          },
        ],
      },
    });
    assert.equal(evaluateVap([withSub, binding('b', 'p', ['Deny'])], request).allowed, false);
    const wildcard = policy('p', {
      ...check,
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/*'] }],
      },
    });
    assert.equal(evaluateVap([wildcard, binding('b', 'p', ['Deny'])], request).allowed, false);
    // 'pods/*' also matches the main resource: Kubernetes' rule matcher compares `sub == "*" || sub == opSub`
    assert.equal(
      evaluateVap([wildcard, binding('b', 'p', ['Deny'])], vapRequestFor(ephemeral, { operation: 'UPDATE' })).allowed,
      false,
    );
    // while '*' means every resource but no subresource
    const star = policy('p', {
      ...check,
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['*'] }],
      },
    });
    assert.equal(evaluateVap([star, binding('b', 'p', ['Deny'])], request).allowed, true);
  });

  it('namespaceSelector reads the namespace object; a missing one is an error under failurePolicy', () => {
    const p = policy('p', {
      matchConstraints: {
        namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod'] }] },
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
      },
      validations: [{ expression: 'false' }],
    });
    const objects = [p, binding('b', 'p', ['Deny'])];
    const ns = (labels: Record<string, string>): Json => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels },
    });
    assert.equal(
      evaluateVap(objects, vapRequestFor(pod(false)), { namespaceObject: ns({ tier: 'prod' }) }).allowed,
      false,
    );
    assert.equal(
      evaluateVap(objects, vapRequestFor(pod(false)), { namespaceObject: ns({ tier: 'dev' }) }).allowed,
      true,
    );
    const missing = evaluateVap(objects, vapRequestFor(pod(false)));
    assert.equal(missing.allowed, false);
    assert.match(missing.errors[0]?.message ?? '', /namespace "shop" not found/);
  });

  it('objectSelector, excludeResourceRules, operations, scope and binding matchResources narrow the match', () => {
    const deny = [{ expression: 'false' }];
    const rules = [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }];
    const run = (constraints: Json, b: Json = binding('b', 'p', ['Deny']), req = vapRequestFor(pod(false))): boolean =>
      evaluateVap([policy('p', { matchConstraints: constraints, validations: deny }), b], req).allowed;
    assert.equal(run({ resourceRules: rules, objectSelector: { matchLabels: { app: 'web' } } }), false);
    assert.equal(run({ resourceRules: rules, objectSelector: { matchLabels: { app: 'db' } } }), true);
    assert.equal(run({ resourceRules: rules, excludeResourceRules: [{ ...rules[0], resourceNames: ['web'] }] }), true);
    assert.equal(run({ resourceRules: rules }, undefined, vapRequestFor(pod(false), { operation: 'UPDATE' })), true);
    assert.equal(run({ resourceRules: [{ ...rules[0], scope: 'Cluster' }] }), true);
    assert.equal(run({ resourceRules: [{ ...rules[0], scope: 'Namespaced' }] }), false);
    const narrowed = binding('b', 'p', ['Deny'], {
      matchResources: { namespaceSelector: {}, objectSelector: { matchLabels: { app: 'db' } } },
    });
    assert.equal(run({ resourceRules: rules }, narrowed), true);
    const widened = binding('b', 'p', ['Deny'], {
      matchResources: { objectSelector: { matchLabels: { app: 'web' } } },
    });
    assert.equal(run({ resourceRules: rules }, widened), false);
  });

  it('matchPolicy Equivalent matches an older group/version of the same resource, Exact does not', () => {
    const deployment = {
      apiVersion: 'extensions/v1beta1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'shop' },
      spec: {},
    };
    const rules = [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'] }];
    const run = (matchPolicy: string): boolean =>
      evaluateVap(
        [
          policy('p', {
            matchConstraints: { resourceRules: rules, matchPolicy },
            validations: [{ expression: 'false' }],
          }),
          binding('b', 'p', ['Deny']),
        ],
        vapRequestFor(deployment),
      ).allowed;
    assert.equal(run('Equivalent'), false);
    assert.equal(run('Exact'), true);
  });
});

describe('evaluateVap: variables, request and auditAnnotations', () => {
  it('variables are evaluated in order, lazily, and can use earlier variables', () => {
    const p = policy('p', {
      variables: [
        { name: 'containers', expression: 'object.spec.containers + object.spec.?initContainers.orValue([])' },
        { name: 'names', expression: 'variables.containers.map(c, c.name)' },
        { name: 'broken', expression: 'object.nothing' },
      ],
      validations: [{ expression: "variables.names == ['app', 'init']", message: 'names' }],
    });
    const withInit = pod(false, { initContainers: [{ name: 'init', image: 'busybox' }] });
    const r = evaluateVap([p, binding('b', 'p', ['Deny'])], vapRequestFor(withInit));
    // `broken` is never used, so its error never surfaces
    assert.deepEqual([r.allowed, r.errors], [true, []]);
    const used = policy('p', {
      variables: [{ name: 'broken', expression: 'object.nothing' }],
      validations: [{ expression: 'variables.broken == 1' }],
    });
    const r2 = evaluateVap([used, binding('b', 'p', ['Deny'])], vapRequestFor(withInit));
    assert.equal(r2.allowed, false);
    assert.match(r2.denials[0]?.message ?? '', /variables\.broken: /);
  });

  it('request, oldObject, params and namespaceObject are bound as in Kubernetes; authorizer is not', () => {
    const p = policy('p', {
      validations: [
        {
          expression:
            "request.operation == 'CREATE' && request.kind.kind == 'Pod' && request.resource.resource == 'pods'",
        },
        { expression: "request.namespace == 'shop' && request.name == 'web' && request.userInfo.username == 'alice'" },
        { expression: 'oldObject == null && params == null' },
        { expression: "namespaceObject.metadata.name == 'shop'" },
      ],
    });
    const req = vapRequestFor(pod(false), { userInfo: { username: 'alice', groups: [] } });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
    const r = evaluateVap([p, binding('b', 'p', ['Deny'])], req, { namespaceObject: ns });
    assert.deepEqual([r.allowed, r.errors], [true, []]);
    const auth = policy('p', {
      validations: [{ expression: "authorizer.group('').resource('pods').check('get').allowed()" }],
    });
    assert.equal(evaluateVap([auth, binding('b', 'p', ['Deny'])], req).allowed, false);
  });

  it('auditAnnotations publish strings, skip null, and fail closed on error under Fail', () => {
    const p = policy('p', {
      auditAnnotations: [
        { key: 'image', valueExpression: 'object.spec.containers[0].image' },
        { key: 'nothing', valueExpression: 'null' },
      ],
      validations: [{ expression: 'true' }],
    });
    const r = evaluateVap([p, binding('b', 'p', ['Audit'])], vapRequestFor(pod(false)));
    assert.deepEqual(r.auditAnnotations, { 'p/image': 'nginx:1.27' });
    const broken = policy('p', {
      auditAnnotations: [{ key: 'x', valueExpression: 'object.nope' }],
      validations: [{ expression: 'true' }],
    });
    assert.equal(evaluateVap([broken, binding('b', 'p', ['Audit'])], vapRequestFor(pod(false))).allowed, false);
  });

  it('a number written for a quantity is seen as its string form, as after a typed decode', () => {
    const p = policy('p', {
      validations: [
        {
          expression:
            "object.spec.containers.all(c, quantity(c.resources.limits.cpu).compareTo(quantity('2')) <= 0 && c.resources.limits.cpu == '1')",
        },
      ],
    });
    const withLimits: Json = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'q', namespace: 'shop' },
      spec: { containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: 1 } } }] },
    };
    const r = evaluateVap([p, binding('b', 'p', ['Deny'])], vapRequestFor(withLimits));
    assert.deepEqual([r.allowed, r.errors], [true, []]);
  });
});
