/**
 * The runner, run for real on a copy of the built tree that has no ../shared beside it:
 * its last line counts every suite skipped for that reason (node's own summary counts a
 * skipped describe as nothing). With ../shared beside the copy, no such line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { repoPath } from '@portcullis/config';

// specs that read ../shared, and how many suites each skips without it
const SPECS = {
  'libs/scan-reports/test/shared-reports.spec.js': 2, // Trivy, Grype
  'libs/policy-engine/test/conformance/pss.spec.js': 3, // PSS baseline, PSS restricted, the fixture set
  'apps/cli/test/eval/fixtures.spec.js': 1,
};
const REAL_SHARED = path.resolve(repoPath(), '..', 'shared');

/** A repository copy under a fresh directory: dist, prisma and the libs' entry files copied, node_modules linked. */
function copyTree(): { root: string; repo: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-runner-'));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  fs.copyFileSync(repoPath('package.json'), path.join(repo, 'package.json'));
  fs.cpSync(repoPath('dist'), path.join(repo, 'dist'), {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}.test-`),
  });
  fs.cpSync(repoPath('prisma'), path.join(repo, 'prisma'), { recursive: true });
  // the workspace packages must resolve to this copy's dist, so its repository root is this copy
  for (const lib of fs.readdirSync(repoPath('libs'))) {
    fs.mkdirSync(path.join(repo, 'libs', lib), { recursive: true });
    for (const f of ['package.json', 'index.js'])
      if (fs.existsSync(repoPath('libs', lib, f)))
        fs.copyFileSync(repoPath('libs', lib, f), path.join(repo, 'libs', lib, f));
  }
  fs.mkdirSync(path.join(repo, 'node_modules', '@portcullis'), { recursive: true });
  for (const entry of fs.readdirSync(repoPath('node_modules'))) {
    if (entry !== '@portcullis')
      fs.symlinkSync(repoPath('node_modules', entry), path.join(repo, 'node_modules', entry));
  }
  for (const lib of fs.readdirSync(repoPath('node_modules', '@portcullis')))
    fs.symlinkSync(path.join('..', '..', 'libs', lib), path.join(repo, 'node_modules', '@portcullis', lib));
  return { root, repo };
}

describe('npm test without ../shared: one closing line with the exact count of skipped suites', () => {
  let tree: { root: string; repo: string };
  const base = new URL(process.env['TEST_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/portcullis_test');
  const db = new URL(base);
  db.pathname = `/${decodeURIComponent(base.pathname.slice(1)).slice(0, 50)}_runner`;
  const runner = () => {
    // NODE_TEST_CONTEXT would make the nested node --test talk to this test process instead of printing
    const { NODE_TEST_CONTEXT: _ignored, ...env } = process.env;
    return spawnSync(
      process.execPath,
      [path.join(tree.repo, 'dist', 'libs', 'testing', 'src', 'run.js'), ...Object.keys(SPECS)],
      {
        cwd: tree.repo,
        encoding: 'utf8',
        env: { ...env, TEST_DATABASE_URL: db.toString(), TEST_CONCURRENCY: '1' },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  };
  before(() => {
    tree = copyTree();
  });
  after(async () => {
    fs.rmSync(tree.root, { recursive: true, force: true });
    const admin = new URL(base);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${decodeURIComponent(db.pathname.slice(1))}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });

  it("counts every skipped suite, not node's 0 skipped tests", () => {
    const run = runner();
    assert.equal(run.status, 0, run.stderr + run.stdout.slice(-2000));
    const lines = run.stdout.trimEnd().split('\n');
    const expected = Object.values(SPECS).reduce((a, b) => a + b, 0);
    assert.equal(lines.at(-1), `${expected} suites skipped for lack of ../shared (not beside this clone)`);
    assert.equal(lines.filter((l) => l.includes('skipped for lack of ../shared')).length, 1, 'one line');
    assert.ok(
      lines.some((l) => /^ℹ skipped 0$/.test(l)),
      'node itself counts none of them',
    );
  });

  it(
    'with ../shared beside the copy, the suites run and no such line is written',
    { skip: fs.existsSync(REAL_SHARED) ? false : `../shared is not beside this clone (${REAL_SHARED})` },
    () => {
      fs.symlinkSync(REAL_SHARED, path.join(tree.root, 'shared'));
      const run = runner();
      assert.equal(run.status, 0, run.stderr + run.stdout.slice(-2000));
      assert.doesNotMatch(run.stdout, /skipped for lack of \.\.\/shared/);
      assert.match(run.stdout, /^ℹ skipped 0$/m);
      assert.match(run.stdout, /PSS restricted/);
    },
  );
});
