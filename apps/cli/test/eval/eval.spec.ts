import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HARDENED, PRIVILEGED, SERVICE, parseJson, portcullis, workspace } from './support';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: audit-everything }
spec:
  type: MISCONFIGURATION
  action: AUDIT
  rules: [{ preset: pss-baseline }]
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: limits }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { namespaces: { include: ["*"], exclude: [kube-system] } }
  rules:
    - id: resource-limits
      params: { maxMemoryLimit: 128Mi }
`;

describe('portcullis eval', () => {
  it('without -p, the default policy blocks: exit 1 and the documented JSON shape', async () => {
    const cwd = workspace({ 'k8s/app.yaml': `${HARDENED}---\n${PRIVILEGED}---\n${SERVICE}` });
    const run = await portcullis(['eval', '--format', 'json', 'k8s/app.yaml'], { cwd });
    assert.equal(run.code, 1, run.stderr);
    const report = parseJson(run);
    assert.deepEqual(
      report.results.map((r) => [r.source, r.index, r.kind, r.namespace, r.name, r.decision]),
      [
        ['k8s/app.yaml', 1, 'Deployment', 'shop', 'web', 'allow'],
        ['k8s/app.yaml', 2, 'DaemonSet', 'kube-system', 'node-agent', 'deny'],
        ['k8s/app.yaml', 3, 'Service', 'shop', 'web', 'allow'],
      ],
    );
    const agent = report.results[1]!;
    const privileged = agent.violations.find((v) => v.rule === 'privileged-container')!;
    assert.deepEqual(Object.keys(privileged).slice(0, 5), ['policy', 'rule', 'action', 'message', 'path']);
    assert.deepEqual(
      [privileged.policy, privileged.action, privileged.path, privileged.container],
      [
        'Default K8s misconfiguration rule',
        'BLOCK',
        'spec.template.spec.containers[0].securityContext.privileged',
        'agent',
      ],
    );
    assert.ok(agent.violations.some((v) => v.rule === 'host-namespaces'));
    assert.deepEqual(report.results[2]!.violations, []);
    assert.equal(report.summary['objects'], 3);
    assert.equal(report.summary['denied'], 1);
  });

  it('with policy files: AUDIT violations never fail the run, scopes apply, BLOCK ones do', async () => {
    const cwd = workspace({ 'policy.yaml': POLICY, 'ds.yaml': PRIVILEGED, 'web.yaml': HARDENED });
    const audit = await portcullis(['eval', '-p', 'policy.yaml', '--format', 'json', 'ds.yaml'], { cwd });
    assert.equal(audit.code, 0, 'kube-system is outside the BLOCK policy; the baseline one only audits');
    const v = parseJson(audit).results[0]!.violations;
    assert.ok(v.length > 0 && v.every((x) => x.policy === 'audit-everything' && x.action === 'AUDIT'));
    const block = await portcullis(['eval', '-p', 'policy.yaml', '--format', 'json', 'web.yaml'], { cwd });
    assert.equal(block.code, 1, '256Mi is over the 128Mi maximum');
    assert.deepEqual(
      parseJson(block).results[0]!.violations.map((x) => [x.policy, x.rule]),
      [['limits', 'resource-limits']],
    );
  });

  it('-n names the namespace of objects that carry none', async () => {
    const cwd = workspace({ 'svc.yaml': SERVICE.replace(', namespace: shop', '') });
    const dflt = await portcullis(['eval', '--format', 'json', 'svc.yaml'], { cwd });
    assert.equal(dflt.code, 1, 'the default namespace is blocked by default-namespace');
    assert.deepEqual(
      parseJson(dflt).results[0]!.violations.map((x) => x.rule),
      ['default-namespace'],
    );
    const shop = await portcullis(['eval', '-n', 'shop', '--format', 'json', 'svc.yaml'], { cwd });
    assert.equal(shop.code, 0);
    assert.equal(parseJson(shop).results[0]!.namespace, 'shop');
  });

  it('reads stdin, JSON arrays, kind: List and whole directories', async () => {
    const list = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        JSON.parse(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'shop' } })),
      ],
    });
    const cwd = workspace({
      'dir/a.yaml': HARDENED,
      'dir/nested/b.json': JSON.stringify([
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'shop' } },
      ]),
      'dir/nested/c.yml': list,
      'dir/readme.md': 'not a manifest',
    });
    const run = await portcullis(['eval', '--format', 'json', 'dir', '-'], { cwd, stdin: PRIVILEGED });
    assert.equal(run.code, 1);
    assert.deepEqual(
      parseJson(run).results.map((r) => [r.source, r.index, r.name, r.decision]),
      [
        ['dir/a.yaml', 1, 'web', 'allow'],
        ['dir/nested/b.json', 1, 'b', 'allow'],
        ['dir/nested/c.yml', 1, 'a', 'allow'],
        ['-', 1, 'node-agent', 'deny'],
      ],
    );
  });

  it('a document the engine cannot evaluate is exit 2 naming file, document and line; --allow-unknown reports it and goes on', async () => {
    const cwd = workspace({
      'odd.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: odd, namespace: shop }\nspec: { template: "not an object" }\n---\n# a comment first\n- just\n- a list\n`,
    });
    const refused = await portcullis(['eval', '--format', 'json', 'odd.yaml'], { cwd });
    assert.equal(refused.code, 2, refused.stdout);
    assert.equal(refused.stdout, '');
    const lines = refused.stderr.trimEnd().split('\n');
    assert.match(lines[0]!, /^portcullis eval: odd.yaml: document 1: line 1: cannot evaluate: .*spec.template/);
    assert.match(lines[1]!, /^odd.yaml: document 2: line 7: cannot evaluate: /);
    assert.equal(lines[2], '2 documents cannot be evaluated (--allow-unknown reports them and goes on)');

    const run = await portcullis(['eval', '--allow-unknown', '--format', 'json', 'odd.yaml', 'svc.yaml'], {
      cwd: workspace({
        'odd.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: odd, namespace: shop }\nspec: { template: "not an object" }\n---\n- just\n- a list\n`,
        'svc.yaml': SERVICE,
      }),
    });
    assert.equal(run.code, 0, run.stderr);
    const [odd, list, svc] = parseJson(run).results;
    assert.deepEqual([odd!.index, odd!.status, odd!.decision], [1, 'cannot-evaluate', 'allow']);
    assert.match(odd!.reason!, /spec.template/);
    assert.deepEqual([list!.index, list!.status], [2, 'cannot-evaluate']);
    assert.deepEqual([svc!.source, svc!.index, svc!.status], ['svc.yaml', 1, 'evaluated']);
    assert.equal(parseJson(run).summary['cannotEvaluate'], 2);
  });

  it('inputs with no Kubernetes object are exit 2 naming them; --allow-empty passes them', async () => {
    const cwd = workspace({
      'empty.yaml': '',
      'comments.yaml': '# nothing yet\n---\n---\n',
      'docs/readme.md': 'no manifests here',
      'odd.yaml': 'just: a map\n',
    });
    for (const [args, named] of [
      [['empty.yaml'], 'empty.yaml \\(1 file read;'],
      [['comments.yaml', 'empty.yaml'], 'comments.yaml, empty.yaml \\(2 files read;'],
      [['docs'], 'docs \\(no \\*.yaml, \\*.yml or \\*.json file;'],
      [['-'], 'stdin \\(1 file read;'],
    ] as const) {
      const run = await portcullis(['eval', ...args], { cwd, stdin: '\n' });
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
      assert.match(
        run.stderr,
        new RegExp(
          `^portcullis eval: no Kubernetes object found in ${named} --allow-empty lets an empty input pass\\)\\n$`,
        ),
      );
      assert.equal(run.stdout, '');
    }
    const allowed = await portcullis(
      ['eval', '--allow-empty', '--format', 'json', 'empty.yaml', 'comments.yaml', 'docs'],
      { cwd },
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(parseJson(allowed).results, []);
    // nothing but a document that cannot be evaluated: allowed as unknown, still nothing to pass on
    const unknownOnly = await portcullis(['eval', '--allow-unknown', 'odd.yaml'], { cwd });
    assert.equal(unknownOnly.code, 2);
    assert.match(unknownOnly.stderr, /no Kubernetes object found in odd.yaml/);
    assert.equal((await portcullis(['eval', '--allow-unknown', '--allow-empty', 'odd.yaml'], { cwd })).code, 0);
  });

  it('numbers documents from 1 and points lines inside the file, in multi-document YAML with comments, empty documents and Lists', async () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: ConfigMap, metadata: { name: one, namespace: shop } }\n  - { apiVersion: v1, kind: ConfigMap, metadata: { name: two, namespace: shop } }\n`;
    const text = `# leading comment\n---\n${SERVICE}---\n---\n\n# the list\n${list}---\n${HARDENED}`;
    const cwd = workspace({ 'multi.yaml': text });
    const run = await portcullis(['eval', '--format', 'json', 'multi.yaml'], { cwd });
    assert.equal(run.code, 0, run.stderr);
    const results = parseJson<{ results: Array<{ index: number; item?: number; line?: number; name: string }> }>(
      run,
    ).results;
    const fileLines = text.split('\n');
    assert.deepEqual(
      results.map((r) => [r.index, r.item ?? null, r.name]),
      [
        [1, null, 'web'],
        [3, 1, 'one'],
        [3, 2, 'two'],
        [4, null, 'web'],
      ],
    );
    // each line is where the document's content starts, as an editor numbers it
    assert.deepEqual(
      results.map((r) => fileLines[r.line! - 1]),
      ['apiVersion: v1', 'apiVersion: v1', 'apiVersion: v1', 'apiVersion: apps/v1'],
    );
    assert.equal(fileLines[results[1]!.line! - 2], '# the list');
  });

  it('a syntax error at the end of the file names its last line, not one past it', async () => {
    const yaml = `${HARDENED}---\nkind: Pod\nmetadata: { name: [unclosed\n`;
    const json = '{\n  "kind": "Pod",\n';
    const cwd = workspace({ 'bad.yaml': yaml, 'bad.json': json, 'cut.json': '{\n  "kind": "Pod"\n' });
    const y = await portcullis(['eval', 'bad.yaml'], { cwd });
    const yLines = yaml.replace(/\n$/, '').split('\n').length;
    assert.match(y.stderr, new RegExp(`^portcullis eval: bad.yaml: document 2: line ${yLines}: `));
    assert.doesNotMatch(y.stderr, /at line \d+, column/, 'one line number, ours');
    const j = await portcullis(['eval', 'bad.json'], { cwd });
    assert.match(j.stderr, /^portcullis eval: bad.json: document 1: line 2: not valid JSON: /);
    const cut = await portcullis(['eval', 'cut.json'], { cwd });
    assert.match(cut.stderr, /^portcullis eval: cut.json: document 1: line 2: not valid JSON: /);
  });

  const usage: Array<[string, string[], Record<string, string>, RegExp]> = [
    [
      'YAML syntax error names file, document and line',
      ['eval', 'bad.yaml'],
      { 'bad.yaml': `${HARDENED}---\nkind: Pod\nmetadata: { name: [unclosed\n` },
      /^portcullis eval: bad.yaml: document 2: line \d+: /,
    ],
    [
      'invalid JSON names the file',
      ['eval', 'bad.json'],
      { 'bad.json': '{"kind": "Pod",' },
      /bad.json: document 1: line 1: not valid JSON/,
    ],
    [
      'policy error names file and field',
      ['eval', '-p', 'p.yaml', 'a.yaml'],
      { 'p.yaml': POLICY.replace('128Mi', 'lots'), 'a.yaml': HARDENED },
      /p.yaml: document 2: spec.rules\[0\].params.maxMemoryLimit: .*"lots" is not a Kubernetes quantity/,
    ],
    ['missing input', ['eval', 'nope.yaml'], {}, /nope.yaml: cannot read: no such file or directory/],
    [
      'missing policy file',
      ['eval', '-p', 'nope.yaml', 'a.yaml'],
      { 'a.yaml': HARDENED },
      /nope.yaml: cannot read: no such file or directory/,
    ],
    ['no manifests', ['eval'], {}, /no manifests given/],
    [
      'unknown format',
      ['eval', '--format', 'xml', 'a.yaml'],
      { 'a.yaml': HARDENED },
      /--format must be one of text, json, sarif, junit/,
    ],
    ['unknown option', ['eval', '--colour', 'a.yaml'], { 'a.yaml': HARDENED }, /Unknown option '--colour'/],
    [
      'bad namespace',
      ['eval', '-n', 'Prod_1', 'a.yaml'],
      { 'a.yaml': HARDENED },
      /-n "Prod_1" is not a namespace name/,
    ],
    [
      'the same policy twice',
      ['eval', '-p', 'p.yaml', '-p', 'p.yaml', 'a.yaml'],
      { 'p.yaml': POLICY, 'a.yaml': HARDENED },
      /policy "audit-everything" is also defined/,
    ],
  ];
  for (const [name, args, files, message] of usage) {
    it(`exit 2: ${name}`, async () => {
      const run = await portcullis(args, { cwd: workspace(files) });
      assert.equal(run.code, 2, run.stdout);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '', 'nothing half-written on stdout');
    });
  }

  it('--help says how cannot-evaluate, empty inputs and syntax errors are treated', async () => {
    const run = await portcullis(['eval', '--help'], { cwd: workspace({}) });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Exit codes: 0 .*\n?.*1 .*\n?.*2/);
    assert.match(run.stdout, /cannot evaluate/i);
    assert.match(run.stdout, /--allow-empty/);
    assert.match(run.stdout, /--allow-unknown/);
    assert.match(run.stdout, /numbered from 1/);
  });
});
