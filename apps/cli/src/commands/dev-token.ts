import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const USAGE = [
  'portcullis dev-token --tenant <tid> --user <oid> [--name N] [--audience A] [--expires-in SECONDS]',
  '',
  'Prints a bearer token minted by the local development issuer (its key lives in',
  'DEV_ISSUER_STATE_DIR, default .portcullis/dev-issuer; its URL comes from',
  'DEV_ISSUER_PORT, default 3443). Refused when NODE_ENV=production.',
].join('\n');

/** `portcullis dev-token`: a token for development and tests, validated by the API like an Entra ID one. */
export const devTokenCommand: CliCommand = {
  name: 'dev-token',
  summary: 'print a bearer token from the local development issuer',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    if (io.env['NODE_ENV'] === 'production') throw new UsageError('refused: the development issuer is not available when NODE_ENV=production');
    let values;
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
      throw new UsageError(`${(err as Error).message}\nusage: ${USAGE}`);
    }
    for (const flag of ['tenant', 'user'] as const) {
      const v = values[flag];
      if (!v) throw new UsageError(`--${flag} is required\nusage: ${USAGE}`);
      if (!GUID.test(v)) throw new UsageError(`--${flag} "${v}" is not a GUID (Entra ID ${flag === 'tenant' ? 'tenant ids' : 'object ids'} are GUIDs)`);
    }
    const expiresIn = values['expires-in'] === undefined ? 3600 : Number(values['expires-in']);
    if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 86_400) throw new UsageError('--expires-in must be a whole number of seconds between 60 and 86400');
    const port = Number(io.env['DEV_ISSUER_PORT'] ?? 3443);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('DEV_ISSUER_PORT must be a port number');

    const { loadOrCreateState, mintToken } = await import('@portcullis/dev-issuer');
    const stateDir = path.resolve(io.cwd, io.env['DEV_ISSUER_STATE_DIR'] ?? '.portcullis/dev-issuer');
    const state = loadOrCreateState(stateDir);
    const tenantId = values.tenant!.toLowerCase();
    const token = mintToken(state, `https://127.0.0.1:${port}/${tenantId}/v2.0`, {
      tenantId,
      oid: values.user!.toLowerCase(),
      name: values.name,
      audience: values.audience ?? io.env['AUTH_AUDIENCE'] ?? 'api://portcullis',
      expiresInSeconds: expiresIn,
    });
    io.stdout.write(`${token}\n`);
    return 0;
  },
};
