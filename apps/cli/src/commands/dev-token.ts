import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const USAGE = [
  'portcullis dev-token --tenant <tid> --user <oid> [--name N] [--audience A] [--expires-in SECONDS]',
  '',
  "Prints a bearer token (one line) signed with the local development issuer's key, for",
  'the API to validate exactly like an Entra ID token. Tenant and user are GUIDs.',
  '  --audience     default $AUTH_AUDIENCE, else api://portcullis',
  '  --expires-in   60..86400 seconds, default 3600',
  'Environment: DEV_ISSUER_STATE_DIR (default <repo>/.portcullis/dev-issuer; relative to',
  'the repository root), DEV_ISSUER_URL or DEV_ISSUER_PORT (default 3443) for the issuer',
  'URL in the iss claim. Refused when NODE_ENV=production.',
].join('\n');

interface DevTokenArgs {
  readonly tenant: string;
  readonly user: string;
  readonly name?: string;
  readonly audience?: string;
  readonly expiresIn: number;
}

function parse(argv: readonly string[]): DevTokenArgs {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        tenant: { type: 'string' },
        user: { type: 'string' },
        name: { type: 'string' },
        audience: { type: 'string' },
        'expires-in': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: ${USAGE.split('\n')[0]}`);
  }
  for (const flag of ['tenant', 'user'] as const) {
    const v = values[flag];
    if (v === undefined || v === '') throw new UsageError(`--${flag} is required\nusage: ${USAGE.split('\n')[0]}`);
    if (!GUID.test(v))
      throw new UsageError(
        `--${flag} "${v}" is not a GUID (Entra ID ${flag === 'tenant' ? 'tenant ids (tid)' : 'object ids (oid)'} are GUIDs)`,
      );
  }
  const rawExpiry = values['expires-in'];
  const expiresIn = rawExpiry === undefined ? 3600 : /^\d+$/.test(rawExpiry) ? Number(rawExpiry) : NaN;
  if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 86_400) {
    throw new UsageError(`--expires-in "${rawExpiry}" must be a whole number of seconds from 60 to 86400`);
  }
  if (values['audience'] === '') throw new UsageError('--audience must not be empty');
  if (values['name'] === '') throw new UsageError('--name must not be empty');
  return {
    tenant: values['tenant']!.toLowerCase(),
    user: values['user']!.toLowerCase(),
    name: values['name'],
    audience: values['audience'],
    expiresIn,
  };
}

/** `portcullis dev-token`: a token for development and tests, validated by the API like an Entra ID one. */
export const devTokenCommand: CliCommand = {
  name: 'dev-token',
  summary: 'print a bearer token from the local development issuer',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    if (io.env['NODE_ENV'] === 'production')
      throw new UsageError('refused: the development issuer is not available when NODE_ENV=production');
    const args = parse(argv);
    const { defaultStateDir, issuerBaseUrl, issuerFor, loadOrCreateState, mintToken } =
      await import('@portcullis/dev-issuer');
    const { repoRoot } = await import('@portcullis/config');
    let base: string;
    try {
      base = issuerBaseUrl(io.env);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const configured = io.env['DEV_ISSUER_STATE_DIR'];
    const stateDir = configured ? path.resolve(repoRoot(), configured) : defaultStateDir();
    const state = loadOrCreateState(stateDir);
    const token = mintToken(state, issuerFor(base, args.tenant), {
      tenantId: args.tenant,
      oid: args.user,
      name: args.name,
      audience: args.audience ?? (io.env['AUTH_AUDIENCE'] || 'api://portcullis'),
      expiresInSeconds: args.expiresIn,
    });
    io.stdout.write(`${token}\n`);
    return 0;
  },
};
