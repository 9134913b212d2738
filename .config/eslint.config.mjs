// Lint: typed rules that catch real bugs (floating promises, non-exhaustive switches),
// import cycles forbidden, libs kept free of apps and frameworks, and the boundaries between
// apps, libs, tests and bench held by import/no-restricted-paths zones.
// libs/testing/test/lint-boundaries.spec.ts proves each boundary reports a violation.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dirsUnder = (dir) =>
  fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
const APPS = dirsUnder('apps');
const LIBS = dirsUnder('libs');
// libs free of frameworks and I/O
const PURE_LIBS = ['policy-engine', 'bundle', 'contracts', 'scan-reports', 'vap'];
// free of frameworks, not of I/O: the agent's admission decision, with the agent's HTTPS
// client and scan-artifact resolver, which the agent and the CLI share
const FRAMEWORK_FREE_LIBS = ['admission'];
// The test harness lib: tests and benches import it, no source does; it may start the apps
// through their entry points (decision of issue #26).
const TESTING_LIB = 'testing';
// What other apps, libs/testing and bench may import of an app: the process's root module,
// main and bootstrap. Paths relative to apps/.
const APP_ENTRY_POINTS = [
  ...APPS.map((app) => `${app}/src/main.ts`),
  'api/src/bootstrap.ts',
  'api/src/api.module.ts',
  'worker/src/worker.module.ts',
].filter((entry) => fs.existsSync(path.join(ROOT, 'apps', entry)));

// no-restricted-imports: a later block that sets the rule REPLACES the options of an earlier
// one, so every block is built by restrictedImports() and carries the deep-import pattern plus
// whatever else applies to its files.
const NO_DEEP_IMPORTS = {
  group: ['@portcullis/*/src/*', '@portcullis/*/src'],
  message: 'import a lib by its package name, not its internals',
};
const NO_APPS_IN_LIBS = { group: ['**/apps/**'], message: 'libs never import from apps' };
const NO_FRAMEWORKS_IN_PURE_LIBS = {
  group: ['@nestjs/*', '@prisma/*', '@portcullis/db', 'ioredis', 'bullmq', 'pg'],
  message: 'policy-engine, bundle, contracts, scan-reports and vap stay free of frameworks and I/O',
};
const NO_FRAMEWORKS_IN_FRAMEWORK_FREE_LIBS = {
  group: NO_FRAMEWORKS_IN_PURE_LIBS.group,
  message:
    'admission stays free of frameworks (Nest, Prisma, pg, Redis): the agent runs it in a cluster, the CLI on a laptop',
};
// the package name resolves through node_modules, outside the zones' reach: named here
const NO_TESTING_IN_SOURCE = {
  group: ['@portcullis/testing', '@portcullis/testing/*'],
  message: 'source never imports test code',
};
const restrictedImports = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns: [NO_DEEP_IMPORTS, ...patterns] }],
});

// import/no-restricted-paths: paths relative to the repository root. A package import
// (@portcullis/x) resolves into node_modules, so these zones see relative imports only.
const others = (list, self) => list.filter((x) => x !== self);
const TEST_CODE = [
  ...APPS.map((app) => `apps/${app}/test`),
  ...LIBS.map((lib) => `libs/${lib}/test`),
  `libs/${TESTING_LIB}`,
  'bench',
];
const SOURCE_DIRS = [
  ...APPS.map((app) => `apps/${app}/src`),
  ...others(LIBS, TESTING_LIB).map((lib) => `libs/${lib}/src`),
];
const ZONES = [
  // no app imports another app's files (src or test), whatever the pair
  ...APPS.map((app) => ({
    target: `apps/${app}`,
    from: others(APPS, app).map((other) => `apps/${other}`),
    message:
      'an app never imports another app: move the shared piece into a lib (libs/*) and import it by package name',
  })),
  {
    target: SOURCE_DIRS,
    from: TEST_CODE,
    message: 'source never imports test code (apps/*/test, libs/*/test, libs/testing, bench)',
  },
  {
    target: 'bench',
    from: 'apps',
    except: APP_ENTRY_POINTS,
    message: "bench imports packages (@portcullis/*) and the apps' entry points (root module, main, bootstrap) only",
  },
  {
    target: `libs/${TESTING_LIB}`,
    from: 'apps',
    except: APP_ENTRY_POINTS,
    message: "libs/testing imports the apps' entry points (root module, main, bootstrap) only",
  },
  ...others(LIBS, TESTING_LIB).map((lib) => ({
    target: `libs/${lib}`,
    from: 'apps',
    message: 'libs never import from apps',
  })),
  // a lib is reached through its package name, never by a relative path into its folder
  {
    target: ['apps', 'bench'],
    from: 'libs',
    message: 'import a lib by its package name (@portcullis/*), not by a path into libs/',
  },
  ...LIBS.map((lib) => ({
    target: `libs/${lib}`,
    from: others(LIBS, lib).map((other) => `libs/${other}`),
    message: 'import another lib by its package name (@portcullis/*), not by a path into libs/',
  })),
];

const NO_REGEXP_FROM_TEXT = [
  {
    selector: ":matches(NewExpression, CallExpression)[callee.name='RegExp']:not([arguments.0.type='Literal'])",
    message:
      'no RegExp built from a non-literal: match user patterns with compileGlob/compileMatcher from @portcullis/policy-engine',
  },
  {
    selector:
      'CallExpression[callee.property.name=/^(match|matchAll|search)$/]:not([arguments.0.regex]):not([arguments.0.name=/^[A-Z][A-Z0-9_]*$/])',
    message:
      'String match/matchAll/search turn a string argument into a RegExp: pass a regex literal or a constant (UPPER_CASE) one',
  },
];
const CONTAINS_ONLY_IN_HELPER = {
  selector: "Property[key.name='contains']",
  message:
    'build substring filters with containing() / containingAnyCase() (apps/api/src/platform/substring-filter.ts): they escape %, _ and \\',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'libs/db/src/generated/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'bench/**/*.ts'],
    extends: [tseslint.configs.base],
    plugins: { import: importPlugin },
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: ROOT },
    },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/await-thenable': 'error',
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'import/no-restricted-paths': ['error', { basePath: ROOT, zones: ZONES }],
      // apps/*/test, bench, libs/testing
      ...restrictedImports(),
    },
  },
  {
    files: ['apps/*/src/**/*.ts'],
    rules: restrictedImports(NO_TESTING_IN_SOURCE),
  },
  {
    files: ['libs/**/*.ts'],
    ignores: [`libs/${TESTING_LIB}/**`, ...[...PURE_LIBS, ...FRAMEWORK_FREE_LIBS].map((lib) => `libs/${lib}/**`)],
    rules: restrictedImports(NO_APPS_IN_LIBS),
  },
  {
    files: ['libs/*/src/**/*.ts'],
    ignores: [`libs/${TESTING_LIB}/**`, ...[...PURE_LIBS, ...FRAMEWORK_FREE_LIBS].map((lib) => `libs/${lib}/**`)],
    rules: restrictedImports(NO_APPS_IN_LIBS, NO_TESTING_IN_SOURCE),
  },
  {
    files: PURE_LIBS.map((lib) => `libs/${lib}/**/*.ts`),
    rules: restrictedImports(NO_FRAMEWORKS_IN_PURE_LIBS, NO_APPS_IN_LIBS),
  },
  {
    files: PURE_LIBS.map((lib) => `libs/${lib}/src/**/*.ts`),
    rules: restrictedImports(NO_FRAMEWORKS_IN_PURE_LIBS, NO_APPS_IN_LIBS, NO_TESTING_IN_SOURCE),
  },
  {
    files: FRAMEWORK_FREE_LIBS.map((lib) => `libs/${lib}/**/*.ts`),
    rules: restrictedImports(NO_FRAMEWORKS_IN_FRAMEWORK_FREE_LIBS, NO_APPS_IN_LIBS),
  },
  {
    files: FRAMEWORK_FREE_LIBS.map((lib) => `libs/${lib}/src/**/*.ts`),
    rules: restrictedImports(NO_FRAMEWORKS_IN_FRAMEWORK_FREE_LIBS, NO_APPS_IN_LIBS, NO_TESTING_IN_SOURCE),
  },
  {
    // No regular expression is built from text at run time (user patterns go through the
    // policy-engine's linear matcher, never a backtracking engine), and Prisma's `contains`
    // (LIKE without escaping) is written only by the one substring-filter helper.
    files: ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts', 'bench/**/*.ts'],
    ignores: ['apps/api/src/platform/substring-filter.ts'],
    rules: { 'no-restricted-syntax': ['error', CONTAINS_ONLY_IN_HELPER, ...NO_REGEXP_FROM_TEXT] },
  },
  {
    files: ['apps/api/src/platform/substring-filter.ts'],
    rules: { 'no-restricted-syntax': ['error', ...NO_REGEXP_FROM_TEXT] },
  },
);
