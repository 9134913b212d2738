import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RULE_CATALOG } from '@portcullis/policy-engine';
import { HARDENED, PRIVILEGED, SERVICE, portcullis, workspace } from './support';

const EXEMPTING = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: node-agents }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  rules: [{ id: privileged-container }, { id: host-namespaces }]
  exemptions:
    - { names: [node-], match: PREFIX, rules: [host-namespaces], reason: CNI needs the host network, grantedBy: platform-team }
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: hygiene }
spec:
  type: MISCONFIGURATION
  action: AUDIT
  rules: [{ id: read-only-root-filesystem }]
`;
const files = () =>
  workspace({
    'policy.yaml': EXEMPTING,
    'k8s/web.yaml': `${SERVICE}---\n${HARDENED}`,
    'k8s/agent.yaml': `# the node agent\n${PRIVILEGED}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: odd, namespace: shop }\nspec: { template: [] }\n`,
  });

interface Sarif {
  $schema: string;
  version: string;
  runs: Array<{
    tool: {
      driver: {
        name: string;
        version: string;
        rules: Array<{ id: string; shortDescription: { text: string }; help: { text: string; markdown: string } }>;
      };
    };
    results: Array<{
      ruleId: string;
      ruleIndex?: number;
      level: string;
      message: { text: string };
      locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }>;
      partialFingerprints: Record<string, string>;
      suppressions?: Array<{ kind: string; justification: string }>;
    }>;
  }>;
}

describe('eval output formats', () => {
  it('sarif: SARIF 2.1.0 with the catalog as rules, error for BLOCK, warning for AUDIT, document start lines', async () => {
    const run = await portcullis(['eval', '-p', 'policy.yaml', '--allow-unknown', '--format', 'sarif', 'k8s'], {
      cwd: files(),
    });
    assert.equal(run.code, 1, run.stderr);
    const sarif = JSON.parse(run.stdout) as Sarif;
    assert.equal(sarif.version, '2.1.0');
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    assert.equal(sarif.runs.length, 1);
    const { driver } = sarif.runs[0]!.tool;
    assert.equal(driver.name, 'portcullis');
    assert.match(driver.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(
      driver.rules.map((r) => r.id),
      RULE_CATALOG.map((r) => r.id),
    );
    for (const r of driver.rules) assert.ok(r.shortDescription.text && r.help.text && r.help.markdown, r.id);
    const results = sarif.runs[0]!.results;
    const byRule = (id: string) => results.filter((r) => r.ruleId === id);
    const privileged = byRule('privileged-container');
    assert.equal(privileged.length, 1);
    assert.equal(privileged[0]!.level, 'error');
    assert.equal(driver.rules[privileged[0]!.ruleIndex!]!.id, 'privileged-container');
    assert.deepEqual(privileged[0]!.locations[0]!.physicalLocation, {
      artifactLocation: { uri: 'k8s/agent.yaml' },
      region: { startLine: 2 },
    });
    const hostNs = byRule('host-namespaces');
    assert.equal(hostNs[0]!.suppressions?.[0]?.kind, 'external', 'exempted findings are suppressed, not dropped');
    const audit = byRule('read-only-root-filesystem');
    assert.ok(audit.length === 1 && audit[0]!.level === 'warning');
    assert.ok(
      results.every((r) => r.message.text.length > 0 && Object.values(r.partialFingerprints)[0]!.length === 32),
    );
    assert.equal(
      new Set(results.map((r) => Object.values(r.partialFingerprints)[0])).size,
      results.length,
      'fingerprints tell findings apart',
    );
  });

  it('junit: a suite per file, a case per object, failures for BLOCK violations only', async () => {
    const run = await portcullis(['eval', '-p', 'policy.yaml', '--allow-unknown', '--format', 'junit', 'k8s'], {
      cwd: files(),
    });
    assert.equal(run.code, 1);
    const xml = run.stdout;
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites/);
    const suites = [
      ...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="0" skipped="(\d+)">/g),
    ].map((m) => m.slice(1));
    assert.deepEqual(suites, [
      ['k8s/agent.yaml', '2', '1', '1'],
      ['k8s/web.yaml', '2', '0', '0'],
    ]);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    const failures = [...xml.matchAll(/<failure message="([^"]*)" type="policy">([^<]*)<\/failure>/g)];
    assert.equal(failures.length, 1);
    assert.match(failures[0]![2]!, /node-agents \/ privileged-container \(agent\)/);
    assert.doesNotMatch(failures[0]![2]!, /host-namespaces/, 'exempted');
    assert.match(xml, /<skipped message="cannot evaluate: spec.template/);
    assert.match(
      xml,
      /<system-out>\[EXEMPT\] node-agents \/ host-namespaces[^<]*\n\[AUDIT\] hygiene \/ read-only-root-filesystem \(agent\)/,
    );
    assert.equal((xml.match(/<testsuite /g) ?? []).length, (xml.match(/<\/testsuite>/g) ?? []).length);
  });

  it('text: grouped by object, marks BLOCK, AUDIT and exempted, ends with a summary', async () => {
    const run = await portcullis(['eval', '-p', 'policy.yaml', '--allow-unknown', 'k8s'], { cwd: files() });
    assert.equal(run.code, 1);
    const lines = run.stdout.trimEnd().split('\n');
    const head = lines.findIndex((l) => l.startsWith('k8s/agent.yaml#1 DaemonSet kube-system/node-agent: DENY'));
    assert.ok(head >= 0, run.stdout);
    const block = lines.slice(
      head + 1,
      lines.findIndex((l, i) => i > head && !l.startsWith(' ')),
    );
    assert.ok(block.some((l) => /^ {2}x \[BLOCK\] node-agents \/ privileged-container \(agent\): /.test(l)));
    assert.ok(block.some((l) => /^ {2}~ \[EXEMPT\] node-agents \/ host-namespaces/.test(l)));
    assert.ok(block.some((l) => /^ {6}at spec\.template\.spec\.containers\[0\]\.securityContext\.privileged$/.test(l)));
    assert.ok(
      lines.some((l) => /k8s\/agent.yaml#2 Deployment shop\/odd: ALLOW \(cannot evaluate: spec.template/.test(l)),
    );
    assert.match(
      lines.at(-1)!,
      /^4 objects: 1 denied, 3 allowed; 1 blocking, 1 audit, 1 exempted violations; 1 could not be evaluated$/,
    );
  });
});
