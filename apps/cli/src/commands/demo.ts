import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const USAGE = [
  'portcullis demo [--api URL] [--manifests DIR] [--days N]',
  '',
  'Against the running stack (`npm start`): onboards a new demo tenant, mints a token for',
  'its owner, creates an Azure subscription, an AWS account and a GCP project with a',
  'cluster in each, starts one real agent per cluster on 127.0.0.1 (own TLS, persisted',
  'bundle and spool), creates two Audit policies, uploads N days of past admissions as the',
  "agents would have, sends today's admissions through the agents, then switches one policy",
  'to Block and shows a denial. Human output goes to stderr; the set-up ends with one JSON',
  'line on stdout. The agents run until SIGINT/SIGTERM (Ctrl-C). Every run is a new tenant.',
  '',
  '  --api URL        the API (default $PORTCULLIS_API_URL, else http://localhost:$PORT or :3000)',
  '  --manifests DIR  manifests to deploy (default ../shared/fixtures/manifests when present,',
  '                   else the ones the project ships in apps/cli/src/demo/manifests)',
  '  --days N         days of history, 3..30 (default 30; the tenant keeps 30 days)',
  'Environment: DATABASE_URL (onboarding, as `portcullis tenant`), DEV_ISSUER_* (the token, as',
  '`portcullis dev-token`), PORTCULLIS_DEMO_DIR (state: TLS, agent files, env.sh; default',
  '<repo>/.portcullis/demo). Refused when NODE_ENV=production.',
].join('\n');

interface Parsed {
  readonly api: string;
  readonly manifests: string;
  readonly days: number;
}

function parse(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  sharedManifests: string,
  shippedManifests: string,
): Parsed {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { api: { type: 'string' }, manifests: { type: 'string' }, days: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: ${USAGE.split('\n')[0]}`);
  }
  const api = (values['api'] ?? env['PORTCULLIS_API_URL'] ?? `http://localhost:${env['PORT'] || '3000'}`).replace(
    /\/+$/,
    '',
  );
  try {
    if (!['http:', 'https:'].includes(new URL(api).protocol)) throw new Error();
  } catch {
    throw new UsageError(`--api "${api}" is not an http(s) URL`);
  }
  const days = values['days'] === undefined ? 30 : /^\d+$/.test(values['days']) ? Number(values['days']) : NaN;
  if (!(days >= 3 && days <= 30))
    throw new UsageError(`--days "${values['days']}" must be a whole number from 3 to 30`);
  const manifests = values['manifests'] ?? (fs.existsSync(sharedManifests) ? sharedManifests : shippedManifests);
  return { api, manifests, days };
}

/** `portcullis demo`: a demo fleet with real agents and a month of history, against the running stack. */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'a demo tenant, three clusters with real agents and 30 days of admissions (development)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    // the token comes from the development issuer, which production refuses
    if (io.env['NODE_ENV'] === 'production')
      throw new UsageError(
        'refused: the demo mints tokens from the development issuer, which is not available when NODE_ENV=production',
      );
    const { repoPath, repoRoot } = await import('@portcullis/config');
    const args = parse(
      argv,
      io.env,
      path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'manifests'),
      repoPath('apps', 'cli', 'src', 'demo', 'manifests'),
    );
    const { runDemo } = await import('../demo/run');
    return runDemo({
      ...args,
      io,
      stateRoot: path.resolve(repoRoot(), io.env['PORTCULLIS_DEMO_DIR'] || path.join('.portcullis', 'demo')),
      operator: `platform-operator:${os.userInfo().username}`,
    });
  },
};
