import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoPath } from '@portcullis/config';

export const API_SRC = repoPath('apps', 'api', 'src');

/** Every TypeScript source of the API, with its path relative to apps/api/src: for tests that scan the code. */
export function apiSources(
  dir = API_SRC,
  out: Array<{ file: string; text: string }> = [],
): Array<{ file: string; text: string }> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) apiSources(full, out);
    else if (entry.name.endsWith('.ts'))
      out.push({ file: path.relative(API_SRC, full), text: readFileSync(full, 'utf8') });
  }
  return out;
}
