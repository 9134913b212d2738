/**
 * The README's tour, run as written: every ```sh block of its "Tour" section, in order, in
 * one bash (functions and variables carry over, as in the reader's terminal), at the
 * repository root, against a stack this test starts. Only the environment differs from a
 * reader's: the stack's ports and directories, which the tour reads with defaults.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath, repoRoot } from '@portcullis/config';
import { startStack, type Stack } from './support/stack';

/** The ```sh blocks of the README section whose heading starts with "## Tour". */
export function tourBlocks(readme: string): string[] {
  const start = readme.search(/^## Tour/m);
  if (start < 0) throw new Error('README.md has no "## Tour" section');
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const MARK = '::readme-tour-block';
const NO_DB = process.env['TEST_DATABASE_URL'] ? false : 'TEST_DATABASE_URL is not set: run through `npm test`';

describe('the README tour, run verbatim', { skip: NO_DB }, () => {
  let stack: Stack;
  let blocks: string[];
  const outputs: Array<{ block: string; exit: number; output: string }> = [];
  const demoJson = path.join(repoRoot(), 'demo.json');
  let earlierDemoJson: Buffer | undefined;

  before(async () => {
    blocks = tourBlocks(fs.readFileSync(repoPath('README.md'), 'utf8'));
    earlierDemoJson = fs.existsSync(demoJson) ? fs.readFileSync(demoJson) : undefined;
    stack = await startStack();
    // after each block, its last command's exit status; the blocks themselves are untouched
    const script = ['exec 2>&1', ...blocks.flatMap((b, i) => [b, `echo "${MARK} ${i} exit $?"`])].join('\n');
    // its own process group: the demo it leaves in the background is stopped with it
    const bash = spawn('bash', ['-c', script], {
      cwd: repoRoot(),
      env: {
        ...process.env,
        ...stack.env,
        NODE_ENV: 'development',
        PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    bash.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    await new Promise<void>((resolve) => bash.once('exit', () => resolve()));
    // the demo left running by the first block: SIGTERM to the group stops it, and it its agents
    try {
      process.kill(-bash.pid!, 'SIGTERM');
    } catch {
      // the demo already exited
    }
    await new Promise((r) => setTimeout(r, 2_000));
    let rest = out;
    for (let i = 0; i < blocks.length; i++) {
      const m = new RegExp(`^${MARK} ${i} exit (\\d+)$`, 'm').exec(rest);
      if (!m) break;
      outputs.push({ block: blocks[i]!, exit: Number(m[1]), output: rest.slice(0, m.index) });
      rest = rest.slice(m.index + m[0].length);
    }
    if (outputs.length !== blocks.length)
      throw new Error(`the tour stopped after block ${outputs.length}:\n${out.slice(-4000)}`);
  });

  after(async () => {
    if (earlierDemoJson) fs.writeFileSync(demoJson, earlierDemoJson);
    else fs.rmSync(demoJson, { force: true });
    await stack?.stop();
  });

  const find = (what: string, test: (b: string) => boolean) => {
    const o = outputs.find((x) => test(x.block));
    assert.ok(o, `a tour block that ${what}`);
    return o;
  };
  const json = <T>(text: string): T =>
    JSON.parse(
      text
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{"data"'))
        .pop() ?? 'null',
    ) as T;

  it('has the steps the tour promises, each a ```sh block of the Tour section', () => {
    for (const step of [
      'portcullis demo',
      'policy(id:',
      'portcullis admit',
      'admissionEvents',
      'auditToDenyReport',
      'simulatePolicy',
      'updatePolicy',
    ])
      assert.ok(
        blocks.some((b) => b.includes(step)),
        step,
      );
  });

  it('starts the demo: its JSON line names the tenant, token, three clusters and their agents', () => {
    const o = find('starts the demo', (b) => b.includes('portcullis demo'));
    assert.equal(o.exit, 0, o.output);
    const text = fs.readFileSync(demoJson, 'utf8').trim();
    assert.ok(text, `demo.json is empty; the demo said:\n${o.output}`);
    const line = JSON.parse(text) as {
      tenantId: string;
      token: string;
      clusters: unknown[];
      agents: unknown[];
      events: number;
    };
    assert.equal(line.clusters.length, 3);
    assert.equal(line.agents.length, 3);
    assert.ok(line.events > 0);
  });

  it('shows the policy in Audit mode, then an admission allowed with warnings through admit', () => {
    const policy = find('reads the policy', (b) => b.includes('policy(id:') && !b.includes('updatePolicy'));
    assert.equal(policy.exit, 0, policy.output);
    assert.equal(json<{ data: { policy: { action: string } } }>(policy.output).data.policy.action, 'AUDIT');
    const admit = find('admits the example', (b) => b.includes('portcullis admit') && !b.includes('until'));
    assert.equal(admit.exit, 0, admit.output);
    assert.match(admit.output, /^deployment\.apps\/web created$/m);
    assert.match(admit.output, /^Warning: \[audit\] policy "demo-workload-hardening"/m);
    assert.match(admit.output, /pod\/web-[a-z0-9]+-[a-z0-9]{5} created \(replicaset-controller\)/);
  });

  it('finds events in the inventory, would-be denials in the audit-to-deny report and flips in the simulation', () => {
    const inventory = find('queries the inventory', (b) => b.includes('admissionEvents'));
    assert.equal(inventory.exit, 0, inventory.output);
    assert.ok(
      json<{ data: { admissionEvents: { totalCount: number } } }>(inventory.output).data.admissionEvents.totalCount > 0,
      inventory.output,
    );
    const report = find('asks the audit-to-deny report', (b) => b.includes('auditToDenyReport'));
    const r = json<{
      data: { auditToDenyReport: { wouldDenyAdmissions: number; dailyTrend: Array<{ admissions: number }> } };
    }>(report.output).data.auditToDenyReport;
    assert.ok(r.wouldDenyAdmissions > 0, report.output);
    assert.ok(r.dailyTrend.filter((d) => d.admissions > 0).length >= 3, report.output);
    const simulation = find('simulates', (b) => b.includes('simulatePolicy'));
    const s = json<{ data: { simulatePolicy: { flipCount: number; flips: unknown[] } } }>(simulation.output).data
      .simulatePolicy;
    assert.ok(s.flipCount > 0, simulation.output);
    assert.equal(s.flips.length, Math.min(s.flipCount, 500));
  });

  it('switches the policy to Block, and the same Deployment is then denied through admit (exit 1)', () => {
    const update = find('switches to Block', (b) => b.includes('updatePolicy'));
    assert.equal(update.exit, 0, update.output);
    assert.equal(json<{ data: { updatePolicy: { action: string } } }>(update.output).data.updatePolicy.action, 'BLOCK');
    const denial = outputs[outputs.length - 1]!;
    assert.ok(denial.block.includes('portcullis admit'), 'the tour ends with the denial');
    assert.equal(denial.exit, 1, denial.output);
    assert.match(
      denial.output,
      /^Error from server \(Forbidden\): error when creating "docs\/examples\/web\.yaml": admission webhook "validate\.portcullis\.dev" denied the request: .*Block-mode/m,
    );
    assert.match(denial.output, /policy "demo-workload-hardening", rule resource-limits/);
  });
});
