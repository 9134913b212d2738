// Lint: typed rules that catch real bugs (floating promises, non-exhaustive switches),
// import cycles forbidden, and libs kept free of apps and frameworks.
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

const NO_REGEXP_FROM_TEXT = [
  {
    selector: ":matches(NewExpression, CallExpression)[callee.name='RegExp']:not([arguments.0.type='Literal'])",
    message: 'no RegExp built from a non-literal: match user patterns with compileGlob/compileMatcher from @portcullis/policy-engine',
  },
  {
    selector: 'CallExpression[callee.property.name=/^(match|matchAll|search)$/]:not([arguments.0.regex]):not([arguments.0.name=/^[A-Z][A-Z0-9_]*$/])',
    message: 'String match/matchAll/search turn a string argument into a RegExp: pass a regex literal or a constant (UPPER_CASE) one',
  },
];
const CONTAINS_ONLY_IN_HELPER = {
  selector: "Property[key.name='contains']",
  message: 'build substring filters with containing() / containingAnyCase() (apps/api/src/platform/substring-filter.ts): they escape %, _ and \\',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'libs/db/src/generated/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'bench/**/*.ts'],
    extends: [tseslint.configs.base],
    plugins: { import: importPlugin },
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: new URL('..', import.meta.url).pathname },
    },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/await-thenable': 'error',
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@portcullis/*/src/*', '@portcullis/*/src'], message: 'import a lib by its package name, not its internals' }] },
      ],
    },
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
  {
    files: ['libs/policy-engine/**/*.ts', 'libs/bundle/**/*.ts', 'libs/contracts/**/*.ts', 'libs/scan-reports/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*', '@prisma/*', '@portcullis/db', 'ioredis', 'bullmq', 'pg'], message: 'policy-engine, bundle, contracts and scan-reports stay free of frameworks and I/O' },
            { group: ['**/apps/**'], message: 'libs never import from apps' },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/**/*.ts'],
    ignores: ['libs/policy-engine/**', 'libs/bundle/**', 'libs/contracts/**', 'libs/scan-reports/**', 'libs/testing/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/apps/**'], message: 'libs never import from apps' }] }],
    },
  },
  {
    // @portcullis/testing is test code: it starts the apps through their entry points, never their internals
    files: ['libs/testing/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@portcullis/*/src/*', '@portcullis/*/src'], message: 'import a lib by its package name, not its internals' },
            {
              group: ['**/apps/**', '!**/apps/api/src/bootstrap', '!**/apps/worker/src/worker.module'],
              message: 'libs/testing reaches an app only through its entry point (apps/api/src/bootstrap, apps/worker/src/worker.module)',
            },
          ],
        },
      ],
    },
  },
);
