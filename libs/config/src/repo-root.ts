import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The repository (or image) root: the nearest ancestor whose package.json is Portcullis'. */
export function repoRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (
      fs.existsSync(manifest) &&
      (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'portcullis'
    ) {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`portcullis: cannot find the repository root above ${__dirname}`);
    dir = parent;
  }
}

export function repoPath(...segments: string[]): string {
  return path.join(repoRoot(), ...segments);
}
