import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAgentStatus } from '@portcullis/contracts';
import { CHECK_METRIC, nativeChecks } from '../src/native/native-checks';
import { policyStates } from '../src/native/native-status';
import { parseMetricFamily } from '../src/native/prometheus-text';

const P1 = '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b';
const P2 = '7a2b3c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d';

describe('native: Prometheus text of kube-apiserver', () => {
  it('reads samples of one family: labels unescaped, timestamps ignored, other families and comments skipped', () => {
    const text = [
      '# HELP apiserver_validating_admission_policy_check_total Validation admission policy check total',
      '# TYPE apiserver_validating_admission_policy_check_total counter',
      'apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="a",policy_binding="a"} 7',
      'apiserver_validating_admission_policy_check_total{policy="b\\"q\\\\x\\ny",enforcement_action="warn"} 2.5e1 1700000000000',
      'apiserver_validating_admission_policy_check_total_other{policy="a"} 99',
      'apiserver_validating_admission_policy_check_duration_seconds_bucket{policy="a",le="0.1"} 3',
      'apiserver_validating_admission_policy_check_total 1',
      '',
    ].join('\n');
    const f = parseMetricFamily(text, CHECK_METRIC);
    assert.equal(f.malformed, 0);
    assert.deepEqual(f.samples, [
      {
        labels: { enforcement_action: 'deny', error_type: 'no_error', policy: 'a', policy_binding: 'a' },
        value: 7,
      },
      { labels: { policy: 'b"q\\x\ny', enforcement_action: 'warn' }, value: 25 },
      { labels: {}, value: 1 },
    ]);
  });

  it('counts lines it cannot read instead of throwing', () => {
    const text = [
      `${CHECK_METRIC}{policy="a" 3`,
      `${CHECK_METRIC}{policy="a"} three`,
      `${CHECK_METRIC}{policy="a",policy="b"} 1`,
      `${CHECK_METRIC}{1bad="x"} 1`,
      `${CHECK_METRIC}{policy="ok"} 4\r`,
    ].join('\n');
    const f = parseMetricFamily(text, CHECK_METRIC);
    assert.equal(f.malformed, 4);
    assert.deepEqual(f.samples, [{ labels: { policy: 'ok' }, value: 4 }]);
  });
});

describe('native: denial counts per policy and rule', () => {
  const index = new Map([
    ['portcullis.shop.privileged-container', { policyId: P1, rule: 'privileged-container' }],
    ['portcullis.shop.host-namespaces', { policyId: P1, rule: 'host-namespaces' }],
    ['portcullis.audit.capabilities', { policyId: P2, rule: 'capabilities' }],
  ]);

  it('sums bindings and error types, keeps deny/warn/audit of our VAPs only', () => {
    const line = (labels: string, v: number) => `${CHECK_METRIC}{${labels}} ${v}`;
    const text = [
      line(
        'policy="portcullis.shop.privileged-container",policy_binding="b1",enforcement_action="deny",error_type="no_error"',
        3,
      ),
      line(
        'policy="portcullis.shop.privileged-container",policy_binding="b1",enforcement_action="deny",error_type="out_of_budget"',
        1,
      ),
      line(
        'policy="portcullis.shop.privileged-container",policy_binding="b2",enforcement_action="deny",error_type="no_error"',
        2,
      ),
      line(
        'policy="portcullis.shop.privileged-container",policy_binding="b1",enforcement_action="allow",error_type="no_error"',
        50,
      ),
      line(
        'policy="portcullis.shop.host-namespaces",policy_binding="b",enforcement_action="deny",error_type="no_error"',
        0,
      ),
      line(
        'policy="portcullis.audit.capabilities",policy_binding="c",enforcement_action="warn",error_type="no_error"',
        4,
      ),
      line(
        'policy="portcullis.audit.capabilities",policy_binding="c",enforcement_action="audit",error_type="no_error"',
        4,
      ),
      line('policy="someone-elses-policy",policy_binding="x",enforcement_action="deny",error_type="no_error"', 9),
    ].join('\n');
    const checks = nativeChecks(text, index);
    assert.deepEqual(checks, [
      { policyId: P1, rule: 'privileged-container', enforcementAction: 'deny', count: 6 },
      { policyId: P2, rule: 'capabilities', enforcementAction: 'audit', count: 4 },
      { policyId: P2, rule: 'capabilities', enforcementAction: 'warn', count: 4 },
    ]);
  });
});

describe('native: per-policy state', () => {
  const objectsOf = (...names: string[]) =>
    names.flatMap((name) =>
      ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].map((kind) => ({ kind, metadata: { name } })),
    );
  const compilation = {
    objects: objectsOf('n1', 'n2', 'n4'),
    policies: [
      {
        policyId: P1,
        policyName: 'shop',
        state: 'COMPILED' as const,
        objectNames: ['n1'],
        unsupported: [],
      },
      {
        policyId: P2,
        policyName: 'partial',
        state: 'PARTIAL' as const,
        objectNames: ['n2'],
        unsupported: [{ rule: 'trusted-registries', what: 'parameter allowedImages', reason: 'x'.repeat(3000) }],
      },
      {
        policyId: '8b3c4d5e-6f7a-4b2c-8d9e-0f1a2b3c4d5e',
        policyName: 'none',
        state: 'NOT_COMPILED' as const,
        objectNames: [],
        unsupported: [{ what: 'namespace pattern "a\u0007b"', reason: 'cannot be expressed' }],
      },
      {
        policyId: '9c4d5e6f-7a8b-4c3d-9e0f-1a2b3c4d5e6f',
        policyName: 'refused',
        state: 'COMPILED' as const,
        objectNames: ['n4'],
        unsupported: [],
      },
    ],
  };

  it('ENFORCED, PARTIAL, NOT_COMPILED and APPLY_FAILED with their reasons, within the contract', () => {
    const states = policyStates(
      compilation,
      new Set([
        'ValidatingAdmissionPolicy/n1',
        'ValidatingAdmissionPolicyBinding/n1',
        'ValidatingAdmissionPolicy/n2',
        'ValidatingAdmissionPolicyBinding/n2',
        'ValidatingAdmissionPolicyBinding/n4',
      ]),
      new Map([
        [
          'ValidatingAdmissionPolicy/n4',
          'apply ValidatingAdmissionPolicy n4: 422 spec.validations[0].expression: compilation failed',
        ],
      ]),
    );
    assert.deepEqual(
      states.map((s) => [s.state, s.objects]),
      [
        ['ENFORCED', 2],
        ['PARTIAL', 2],
        ['NOT_COMPILED', 0],
        ['APPLY_FAILED', 1],
      ],
    );
    assert.match(states[1]!.reason!, /^enforced natively except: trusted-registries: parameter allowedImages/);
    assert.equal(states[1]!.unsupported![0]!.reason.length, 1000);
    assert.equal(states[2]!.unsupported![0]!.what.includes('\u0007'), false);
    assert.match(
      states[3]!.reason!,
      /1 of 2 objects not applied: .*422 spec\.validations\[0\]\.expression: compilation failed/,
    );
    const v = validateAgentStatus({
      agentVersion: 'x',
      appliedRevision: 3,
      spoolDepth: 0,
      droppedEvents: 0,
      reportedAt: new Date().toISOString(),
      native: { reconciledAt: new Date().toISOString(), revision: 3, policies: states, checks: null },
    });
    assert.equal(v.ok, true, v.ok ? '' : JSON.stringify(v.errors));
  });
});
