// The agent runs this lib in a cluster and the CLI on a laptop: the lint config keeps it free
// of frameworks (Nest, Prisma, pg, Redis), apps and test code, checked against the real config.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { repoPath } from '@portcullis/config';

const HOST = repoPath('libs', 'admission', 'src', 'index.ts');
const RULES = ['import/no-restricted-paths', 'no-restricted-imports'];

describe('libs/admission stays framework-free (.config/eslint.config.mjs)', () => {
  let linter: ESLint;

  before(() => {
    // the boundary rules need no type information (building the program takes minutes on a loaded
    // machine), and the cycle check walks the whole import graph with nothing to say about them
    linter = new ESLint({
      cwd: repoPath(),
      overrideConfigFile: repoPath('.config', 'eslint.config.mjs'),
      overrideConfig: [tseslint.configs.disableTypeChecked as Linter.Config, { rules: { 'import/no-cycle': 'off' } }],
    });
  });

  async function messagesFor(spec: string): Promise<string[]> {
    const [result] = await linter.lintText(`import * as imported from '${spec}';\nvoid imported;\n`, {
      filePath: HOST,
    });
    assert.ok(result, 'ESLint returned no result');
    assert.deepEqual(
      result.messages.filter((m) => m.fatal),
      [],
      'the snippet did not parse',
    );
    return result.messages.filter((m) => m.ruleId !== null && RULES.includes(m.ruleId)).map((m) => m.message);
  }

  for (const spec of ['@nestjs/common', '@prisma/client', '@portcullis/db', 'pg', 'ioredis', 'bullmq']) {
    it(`reports an import of ${spec}`, async () => {
      const messages = await messagesFor(spec);
      assert.ok(
        messages.some((m) => /admission stays free of frameworks/.test(m)),
        `no framework report for ${spec}: ${JSON.stringify(messages)}`,
      );
    });
  }

  it('reports an import of test code or of an app, and lets the libs it builds on through', async () => {
    assert.ok((await messagesFor('@portcullis/testing')).some((m) => /source never imports test code/.test(m)));
    assert.ok((await messagesFor('../../../apps/agent/src/main')).some((m) => /libs never import from apps/.test(m)));
    for (const spec of ['@portcullis/policy-engine', '@portcullis/bundle', '@portcullis/contracts', 'node:https'])
      assert.deepEqual(await messagesFor(spec), [], spec);
  });
});
