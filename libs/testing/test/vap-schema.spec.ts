import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateVapObject } from '@portcullis/testing';

type Json = Record<string, unknown>;

function policy(): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'portcullis.default.privileged', labels: { 'portcullis.dev/rule': 'privileged' } },
    spec: {
      failurePolicy: 'Fail',
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
      matchConditions: [{ name: 'not-excluded', expression: "request.namespace != 'kube-system'" }],
      variables: [
        { name: 'containers', expression: 'object.spec.containers' },
        { name: 'names', expression: 'variables.containers.map(c, c.name)' },
      ],
      validations: [
        {
          expression: 'variables.containers.all(c, !c.?securityContext.?privileged.orValue(false))',
          messageExpression: "'privileged: ' + variables.names.join(', ')",
          reason: 'Forbidden',
        },
      ],
    },
  };
}

function binding(): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: 'portcullis.default.privileged' },
    spec: { policyName: 'portcullis.default.privileged', validationActions: ['Warn', 'Audit'] },
  };
}

function edit(obj: Json, fn: (o: Json & { spec: Json & Record<string, Json[]> }) => void): Json {
  const copy = structuredClone(obj) as Json & { spec: Json & Record<string, Json[]> };
  fn(copy);
  return copy;
}

async function paths(obj: Json): Promise<string[]> {
  return (await validateVapObject(obj)).map((e) => `${e.path}: ${e.message}`);
}

describe('validateVapObject', () => {
  it('accepts a well-formed policy and binding', async () => {
    assert.deepEqual(await paths(policy()), []);
    assert.deepEqual(await paths(binding()), []);
  });

  it('catches schema mistakes (enum, required, types) with the path', async () => {
    const errs = await paths(
      edit(policy(), (p) => {
        p.spec['failurePolicy'] = 'Deny' as never;
        (p.spec['validations'][0] as Json)['expression'] = undefined;
        (p.spec['validations'][0] as Json)['reason'] = 'Teapot';
      }),
    );
    assert.ok(
      errs.some((e) => e.startsWith('spec.failurePolicy: ')),
      errs.join('\n'),
    );
    assert.ok(
      errs.some((e) => e.startsWith('spec.validations[0]')),
      errs.join('\n'),
    );
    assert.ok(
      errs.some((e) => e.startsWith('spec.validations[0].reason: ')),
      errs.join('\n'),
    );
  });

  it('catches unknown fields (a typo the API would drop or refuse)', async () => {
    const errs = await paths(
      edit(policy(), (p) => {
        (p.spec['validations'][0] as Json)['messageExpresion'] = "'x'";
        p.spec['matchConstraint'] = {} as never;
      }),
    );
    assert.ok(errs.includes('spec.validations[0].messageExpresion: unknown field "messageExpresion"'), errs.join('\n'));
    assert.ok(errs.includes('spec.matchConstraint: unknown field "matchConstraint"'), errs.join('\n'));
  });

  it('names must be DNS subdomains, label values valid, variables CEL identifiers and unique', async () => {
    const errs = await paths(
      edit(policy(), (p) => {
        (p['metadata'] as Json)['name'] = 'Portcullis_Default';
        (p['metadata'] as Json)['labels'] = { 'portcullis.dev/rule': 'not a value' };
        p.spec['variables'].push({ name: 'in', expression: '1' }, { name: 'containers', expression: '2' });
      }),
    );
    for (const want of [
      'metadata.name: ',
      'metadata.labels[portcullis.dev/rule]: ',
      'spec.variables[2].name: ',
      'spec.variables[3].name: Duplicate',
    ])
      assert.ok(
        errs.some((e) => e.startsWith(want)),
        `${want} in\n${errs.join('\n')}`,
      );
  });

  it('every expression must compile; params need a paramKind; variables only where declared, and declared before use', async () => {
    const errs = await paths(
      edit(policy(), (p) => {
        (p.spec['validations'][0] as Json)['expression'] = 'variables.containers.all(c, '; // unbalanced
        (p.spec['validations'][0] as Json)['messageExpression'] = "params.message + 'x'";
        (p.spec['matchConditions'][0] as Json)['expression'] = 'variables.containers.size() > 0';
        (p.spec['variables'][0] as Json)['expression'] = 'variables.names.size()';
      }),
    );
    for (const want of [
      'spec.validations[0].expression: compilation failed',
      "spec.validations[0].messageExpression: compilation failed: undeclared reference to 'params'",
      "spec.matchConditions[0].expression: compilation failed: undeclared reference to 'variables'",
      "spec.variables[0].expression: compilation failed: undefined field 'names'",
    ])
      assert.ok(
        errs.some((e) => e.startsWith(want)),
        `${want} in\n${errs.join('\n')}`,
      );
  });

  it('a policy needs matchConstraints.resourceRules and validations; rules need their lists and valid operations', async () => {
    const errs = await paths(
      edit(policy(), (p) => {
        p.spec['validations'] = [];
        (p.spec['matchConstraints'] as unknown as Json)['resourceRules'] = [
          { apiGroups: [''], apiVersions: [], operations: ['CREATE', 'PATCH'], resources: ['pods/status/x'] },
        ];
      }),
    );
    for (const want of [
      'spec.validations: Required value',
      'spec.matchConstraints.resourceRules[0].apiVersions: ',
      'spec.matchConstraints.resourceRules[0].operations',
      'spec.matchConstraints.resourceRules[0].resources[0]: ',
    ])
      assert.ok(
        errs.some((e) => e.startsWith(want)),
        `${want} in\n${errs.join('\n')}`,
      );
    assert.ok(
      (await paths(edit(policy(), (p) => delete p.spec['matchConstraints']))).some((e) =>
        e.startsWith('spec.matchConstraints'),
      ),
    );
  });

  it('a binding needs a policyName and non-empty, unique validationActions, never Deny with Warn', async () => {
    const errs = await paths(
      edit(binding(), (b) => {
        b.spec['policyName'] = '' as never;
        b.spec['validationActions'] = ['Deny', 'Warn', 'Deny'] as never;
      }),
    );
    for (const want of [
      'spec.policyName: ',
      'spec.validationActions[2]: Duplicate',
      'spec.validationActions: Deny and Warn',
    ])
      assert.ok(
        errs.some((e) => e.startsWith(want)),
        `${want} in\n${errs.join('\n')}`,
      );
    const empty = await paths(edit(binding(), (b) => (b.spec['validationActions'] = [] as never)));
    assert.ok(
      empty.some((e) => e.startsWith('spec.validationActions')),
      empty.join('\n'),
    );
    const wrongAction = await paths(edit(binding(), (b) => (b.spec['validationActions'] = ['Block'] as never)));
    assert.ok(
      wrongAction.some((e) => e.startsWith('spec.validationActions[0]')),
      wrongAction.join('\n'),
    );
  });

  it('refuses other kinds and API versions', async () => {
    assert.ok(
      (await paths({ ...policy(), apiVersion: 'admissionregistration.k8s.io/v1beta1' })).some((e) =>
        e.startsWith('apiVersion'),
      ),
    );
    assert.ok((await paths({ ...policy(), kind: 'ValidatingWebhookConfiguration' })).some((e) => e.startsWith('kind')));
  });
});
