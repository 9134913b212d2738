import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { tempDir } from '@portcullis/testing';
import { runCli } from '../../src/main';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portcullis <args>` in-process with captured streams, in `cwd`, with `stdin` as input. */
export async function portcullis(args: readonly string[], options: { cwd: string; stdin?: string }): Promise<CliRun> {
  const capture = () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
  };
  const out = capture();
  const err = capture();
  const code = await runCli(args, {
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from([options.stdin ?? '']),
    env: {},
    cwd: options.cwd,
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A temporary directory (removed when the run ends) holding the given files (relative path -> content). */
export function workspace(files: Record<string, string>, prefix = 'portcullis-cli-'): string {
  const dir = tempDir(prefix);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}
