// The lint config's import boundaries, checked through ESLint's Node API against the real
// config (.config/eslint.config.mjs): each zone reports a violation, and the imports the
// design allows pass. Snippets are linted as if they were the content of an existing file
// (where the config's `files` globs put it); import targets are real files, because
// import/no-restricted-paths only judges imports it can resolve.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { repoPath, repoRoot } from '@portcullis/config';

const CONFIG_FILE = repoPath('.config', 'eslint.config.mjs');
const BOUNDARY_RULES = ['import/no-restricted-paths', 'no-restricted-imports'];
const DEEP_IMPORT_GROUP = '@portcullis/*/src/*';

// Host files: stable entry points and index files, so the spec survives files moving around.
const HOST = {
  apiMain: 'apps/api/src/main.ts',
  workerMain: 'apps/worker/src/main.ts',
  cliMain: 'apps/cli/src/main.ts',
  agentMain: 'apps/agent/src/main.ts',
  dbIndex: 'libs/db/src/index.ts',
  engineIndex: 'libs/policy-engine/src/index.ts',
  testingRun: 'libs/testing/src/run.ts',
  benchMain: 'bench/main.ts',
};

function firstTsFile(dir: string, accept: (rel: string) => boolean = () => true): string {
  const walk = (rel: string): string | undefined => {
    const entries = fs.readdirSync(repoPath(rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && accept(child)) return child;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const found = walk(path.posix.join(rel, entry.name));
      if (found) return found;
    }
    return undefined;
  };
  const found = walk(dir);
  if (!found) throw new Error(`no .ts file under ${dir} to use in the lint-boundary spec`);
  return found;
}

/** The import specifier that reaches `target` (repo-relative .ts file) from `host`. */
function specifier(host: string, target: string): string {
  const rel = path.posix.relative(path.posix.dirname(host), target).replace(/\.ts$/, '');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

describe('lint boundaries (.config/eslint.config.mjs)', () => {
  // the config exactly as `npm run lint` loads it: what each file gets
  let eslint: ESLint;
  // the same, linting without type information: the boundary rules need none, and building
  // the whole repository's TypeScript program took minutes on a loaded machine
  let linter: ESLint;

  async function boundaryMessages(host: string, imports: string[]): Promise<Linter.LintMessage[]> {
    const code = imports.map((spec, i) => `import * as imported${i} from '${spec}';\nvoid imported${i};\n`).join('');
    const [result] = await linter.lintText(code, { filePath: repoPath(host) });
    assert.ok(result, `ESLint returned no result for ${host}`);
    const fatal = result.messages.filter((m) => m.fatal);
    assert.deepEqual(fatal, [], `${host} did not parse`);
    return result.messages.filter((m) => m.ruleId !== null && BOUNDARY_RULES.includes(m.ruleId));
  }

  async function assertBites(host: string, spec: string, expected: RegExp): Promise<void> {
    const messages = await boundaryMessages(host, [spec]);
    assert.ok(
      messages.some((m) => expected.test(m.message)),
      `importing '${spec}' from ${host} should be reported (${String(expected)}); got: ${JSON.stringify(messages.map((m) => m.message))}`,
    );
  }

  async function assertAllowed(host: string, specs: string[]): Promise<void> {
    const messages = await boundaryMessages(host, specs);
    assert.deepEqual(
      messages.map((m) => m.message),
      [],
      `${host} may import ${specs.join(', ')}`,
    );
  }

  before(async () => {
    eslint = new ESLint({ cwd: repoRoot(), overrideConfigFile: CONFIG_FILE });
    linter = new ESLint({
      cwd: repoRoot(),
      overrideConfigFile: CONFIG_FILE,
      // the cycle check walks the whole import graph and has nothing to say about boundaries
      overrideConfig: [tseslint.configs.disableTypeChecked as Linter.Config, { rules: { 'import/no-cycle': 'off' } }],
    });
  });

  it('keeps the zone rule on for every host file used here', async () => {
    for (const host of Object.values(HOST)) {
      assert.ok(fs.existsSync(repoPath(host)), `${host} exists`);
      const config = (await eslint.calculateConfigForFile(repoPath(host))) as Linter.Config;
      const setting = config.rules?.['import/no-restricted-paths'];
      const severity = Array.isArray(setting) ? setting[0] : setting;
      assert.ok(
        severity === 2 || severity === 'error',
        `import/no-restricted-paths is an error in ${host} (got ${JSON.stringify(severity)})`,
      );
    }
  });

  it('turns the boundary rules off for no file of apps, libs or bench', async () => {
    const files: string[] = [];
    const walk = (rel: string): void => {
      for (const entry of fs.readdirSync(repoPath(rel), { withFileTypes: true })) {
        const child = path.posix.join(rel, entry.name);
        if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'generated') walk(child);
        else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(child);
      }
    };
    for (const top of ['apps', 'libs', 'bench']) walk(top);
    assert.ok(files.length > 100, `found ${files.length} TypeScript files`);
    const off: string[] = [];
    for (const file of files) {
      const config = (await eslint.calculateConfigForFile(repoPath(file))) as Linter.Config;
      for (const rule of BOUNDARY_RULES) {
        const setting = config.rules?.[rule];
        const severity = Array.isArray(setting) ? setting[0] : setting;
        if (severity !== 2 && severity !== 'error') off.push(`${file}: ${rule} is ${JSON.stringify(severity)}`);
      }
    }
    assert.deepEqual(off, []);
  });

  it('reports an app importing another app (src or test, entry point or not)', async () => {
    await assertBites(
      HOST.workerMain,
      specifier(HOST.workerMain, 'apps/api/src/bootstrap.ts'),
      /an app never imports another app/,
    );
    await assertBites(
      HOST.cliMain,
      specifier(HOST.cliMain, 'apps/agent/src/main.ts'),
      /an app never imports another app/,
    );
    await assertBites(
      HOST.apiMain,
      specifier(HOST.apiMain, 'apps/worker/src/worker.module.ts'),
      /an app never imports another app/,
    );
    const otherAppsTest = firstTsFile('apps/api/test');
    await assertBites(HOST.agentMain, specifier(HOST.agentMain, otherAppsTest), /an app never imports another app/);
    const workerTest = firstTsFile('apps/worker/test');
    await assertBites(
      workerTest,
      specifier(
        workerTest,
        firstTsFile('apps/api/src', (f) => f !== 'apps/api/src/bootstrap.ts'),
      ),
      /an app never imports another app/,
    );
  });

  it('reports source importing test code', async () => {
    await assertBites(
      HOST.apiMain,
      specifier(HOST.apiMain, firstTsFile('apps/api/test')),
      /source never imports test code/,
    );
    await assertBites(HOST.apiMain, specifier(HOST.apiMain, 'bench/main.ts'), /source never imports test code/);
    await assertBites(HOST.dbIndex, specifier(HOST.dbIndex, HOST.testingRun), /source never imports test code/);
    await assertBites(
      HOST.dbIndex,
      specifier(HOST.dbIndex, firstTsFile('libs/db/test')),
      /source never imports test code/,
    );
    // the package name resolves through node_modules: no-restricted-imports names it
    await assertBites(HOST.apiMain, '@portcullis/testing', /source never imports test code/);
    await assertBites(HOST.engineIndex, '@portcullis/testing', /source never imports test code/);
  });

  it("reports bench importing an app's internals or test code", async () => {
    const apiInternal = firstTsFile(
      'apps/api/src',
      (f) => !['apps/api/src/main.ts', 'apps/api/src/bootstrap.ts', 'apps/api/src/api.module.ts'].includes(f),
    );
    await assertBites(
      HOST.benchMain,
      specifier(HOST.benchMain, apiInternal),
      /bench imports packages .* and the apps' entry points/,
    );
    await assertBites(
      HOST.benchMain,
      specifier(HOST.benchMain, firstTsFile('apps/agent/test')),
      /bench imports packages .* and the apps' entry points/,
    );
    await assertBites(
      HOST.benchMain,
      specifier(HOST.benchMain, 'libs/policy-engine/src/index.ts'),
      /import a lib by its package name/,
    );
  });

  it("reports libs/testing importing an app's internals, and a lib importing an app", async () => {
    const workerInternal = firstTsFile(
      'apps/worker/src',
      (f) => !['apps/worker/src/main.ts', 'apps/worker/src/worker.module.ts'].includes(f),
    );
    await assertBites(
      HOST.testingRun,
      specifier(HOST.testingRun, workerInternal),
      /libs\/testing imports the apps' entry points/,
    );
    await assertBites(
      HOST.dbIndex,
      specifier(HOST.dbIndex, 'apps/api/src/bootstrap.ts'),
      /libs never import from apps/,
    );
  });

  it('reports a deep import into a lib, inside libs as well as in apps and bench', async () => {
    for (const host of [HOST.dbIndex, HOST.engineIndex, HOST.testingRun, HOST.apiMain, HOST.benchMain]) {
      await assertBites(
        host,
        '@portcullis/config/src/repo-root',
        /import a lib by its package name, not its internals/,
      );
    }
    await assertBites(
      HOST.dbIndex,
      specifier(HOST.dbIndex, 'libs/config/src/repo-root.ts'),
      /import another lib by its package name/,
    );
  });

  it('keeps the framework ban of the pure libs alongside the deep-import ban', async () => {
    await assertBites(HOST.engineIndex, '@nestjs/common', /stay free of frameworks and I\/O/);
    await assertBites(HOST.engineIndex, '@portcullis/db', /stay free of frameworks and I\/O/);
  });

  it('gives every file the deep-import pattern, whichever block set no-restricted-imports last', async () => {
    const samples = [
      ...Object.values(HOST),
      firstTsFile('libs/policy-engine/test'),
      firstTsFile('libs/db/test'),
      firstTsFile('apps/api/test'),
    ];
    for (const file of samples) {
      const config = (await eslint.calculateConfigForFile(repoPath(file))) as Linter.Config;
      const setting = config.rules?.['no-restricted-imports'];
      assert.ok(Array.isArray(setting), `no-restricted-imports is configured for ${file}`);
      const groups = (setting.slice(1) as Array<{ patterns?: Array<{ group?: string[] }> }>)
        .flatMap((o) => o.patterns ?? [])
        .flatMap((p) => p.group ?? []);
      assert.ok(groups.includes(DEEP_IMPORT_GROUP), `${file} carries ${DEEP_IMPORT_GROUP} (has ${groups.join(', ')})`);
    }
  });

  it('turns on no layout (formatting) rule: Prettier owns the layout, so ESLint never fights it', async () => {
    type RuleMeta = { meta?: { type?: string } };
    for (const file of Object.values(HOST)) {
      const config = (await eslint.calculateConfigForFile(repoPath(file))) as Linter.Config & {
        plugins: Record<string, { rules?: Record<string, RuleMeta> }>;
      };
      const on = Object.entries(config.rules ?? {}).filter(([, setting]) => {
        const severity = Array.isArray(setting) ? setting[0] : setting;
        return severity !== 0 && severity !== 'off';
      });
      assert.ok(on.length > 0, `rules are on for ${file}`);
      for (const [id] of on) {
        const slash = id.lastIndexOf('/');
        const [plugin, name] = slash < 0 ? ['@', id] : [id.slice(0, slash), id.slice(slash + 1)];
        const rule = config.plugins[plugin]?.rules?.[name];
        assert.ok(rule, `rule ${id} is known`);
        assert.notEqual(rule.meta?.type, 'layout', `${id} is a layout rule, on in ${file}`);
      }
    }
  });

  it('lets the imports the design allows pass', async () => {
    // bench: packages and the apps' entry points
    await assertAllowed(HOST.benchMain, [
      '@portcullis/policy-engine',
      '@portcullis/testing',
      specifier(HOST.benchMain, 'apps/api/src/bootstrap.ts'),
      specifier(HOST.benchMain, 'apps/api/src/api.module.ts'),
      specifier(HOST.benchMain, 'apps/worker/src/worker.module.ts'),
      specifier(HOST.benchMain, 'apps/agent/src/main.ts'),
      specifier(HOST.benchMain, 'bench/report.ts'),
    ]);
    // libs/testing: the apps' entry points
    await assertAllowed(HOST.testingRun, [
      specifier(HOST.testingRun, 'apps/api/src/bootstrap.ts'),
      specifier(HOST.testingRun, 'apps/worker/src/worker.module.ts'),
      '@portcullis/db',
    ]);
    // an app's tests: its own src, packages, the testing lib
    const workerTest = firstTsFile('apps/worker/test');
    await assertAllowed(workerTest, [
      specifier(workerTest, 'apps/worker/src/worker.module.ts'),
      specifier(workerTest, firstTsFile('apps/worker/src')),
      '@portcullis/testing',
      '@portcullis/db',
    ]);
    // source: packages and its own files
    await assertAllowed(HOST.apiMain, [
      '@portcullis/config',
      '@portcullis/policy-engine',
      specifier(HOST.apiMain, 'apps/api/src/bootstrap.ts'),
    ]);
    await assertAllowed(HOST.dbIndex, ['@portcullis/config']);
  });
});
