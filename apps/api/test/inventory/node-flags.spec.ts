import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { API_NODE_FLAGS } from '../../src/node-flags';

describe('API node flags', () => {
  it('the benches run with the flags the launcher gives the API (they embed the API)', () => {
    const scripts = (JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const bench = scripts['bench'] ?? '';
    for (const flag of API_NODE_FLAGS) assert.ok(bench.includes(`node ${flag} `) || bench.includes(` ${flag} `), `package.json "bench" lacks ${flag}: ${bench}`);
  });
});
