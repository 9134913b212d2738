import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';

/** What libs/testing may load from the apps: their entry points (the lint rule sees static imports only). */
const ENTRY_POINTS = new Set(['apps/api/src/bootstrap', 'apps/worker/src/worker.module']);

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, out);
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

describe('@portcullis/testing boundaries', () => {
  it('reaches the apps only through their entry points, static and dynamic imports alike', () => {
    const root = repoPath();
    const offending: string[] = [];
    for (const file of sources(repoPath('libs', 'testing', 'src'))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)'(\.[^']*)'/g)) {
        const target = path
          .relative(root, path.resolve(path.dirname(file), m[1]!))
          .split(path.sep)
          .join('/');
        if (!target.startsWith('apps/')) continue;
        if (ENTRY_POINTS.has(target)) continue;
        offending.push(`${path.relative(root, file)} imports ${target}`);
      }
    }
    assert.deepEqual(offending, []);
  });
});
