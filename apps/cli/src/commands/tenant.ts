import * as os from 'node:os';
import { parseArgs } from 'node:util';
import type { TenantSummary } from '@portcullis/tenants';
import { UsageError, type CliCommand, type CliIo } from '../command';

const USAGE = [
  'portcullis tenant create --tenant <tid> --owner <oid> [--name N] [--json]',
  '       portcullis tenant list [--json]',
  '       portcullis tenant disable --tenant <tid>',
  '       portcullis tenant enable --tenant <tid>',
  '',
  'Platform-operator onboarding, against DATABASE_URL. `create` adds the tenant, its',
  'first Owner and its two default policies (Audit mode, scope = everything).',
].join('\n');

function render(t: TenantSummary): string {
  return `${t.id}  ${t.status.padEnd(8)}  ${t.name}  owners: ${t.owners.join(', ') || '-'}`;
}

/** `portcullis tenant ...`: onboarding and lifecycle of customer tenants. */
export const tenantCommand: CliCommand = {
  name: 'tenant',
  summary: 'onboard, list, disable or enable tenants (platform operators)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const [action, ...rest] = argv;
    let parsed;
    try {
      parsed = parseArgs({
        args: [...rest],
        options: {
          tenant: { type: 'string' },
          owner: { type: 'string' },
          name: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { values } = parsed;
    const need = (flag: 'tenant' | 'owner'): string => {
      const v = values[flag];
      if (!v) throw new UsageError(`--${flag} is required\nusage: ${USAGE}`);
      return v;
    };
    if (!['create', 'list', 'disable', 'enable'].includes(action ?? ''))
      throw new UsageError(`expected create, list, disable or enable\nusage: ${USAGE}`);

    // loaded here, not at CLI start: `portcullis eval` in CI pipelines never pays for Prisma
    const { loadConfig, repoPath } = await import('@portcullis/config');
    const { createPrismaClient, ensureDatabase, migrate } = await import('@portcullis/db');
    const { OnboardingError, TenantOnboarding } = await import('@portcullis/tenants');
    let config;
    try {
      config = loadConfig(io.env);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    await ensureDatabase(config.databaseUrl);
    await migrate(config.databaseUrl, repoPath('prisma', 'migrations'));
    const prisma = createPrismaClient({ databaseUrl: config.databaseUrl, poolSize: 2 });
    const onboarding = new TenantOnboarding(prisma);
    const operator = `platform-operator:${os.userInfo().username}`;
    const print = (value: TenantSummary | TenantSummary[]) =>
      io.stdout.write(
        (values.json
          ? JSON.stringify(value, null, 2)
          : (Array.isArray(value) ? value : [value]).map(render).join('\n')) + '\n',
      );
    try {
      switch (action) {
        case 'create':
          print(
            await onboarding.create({
              tenantId: need('tenant'),
              ownerObjectId: need('owner'),
              name: values.name,
              operator,
            }),
          );
          break;
        case 'list':
          print(await onboarding.list());
          break;
        case 'disable':
        case 'enable':
          print(await onboarding.setStatus(need('tenant'), action === 'disable' ? 'DISABLED' : 'ACTIVE', operator));
          break;
      }
      return 0;
    } catch (err) {
      if (err instanceof OnboardingError) throw new UsageError(err.message);
      throw err;
    } finally {
      await prisma.$disconnect();
    }
  },
};
