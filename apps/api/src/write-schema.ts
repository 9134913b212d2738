/** `npm run schema`: regenerates apps/api/schema.gql from the code-first types. */
import { loadConfig } from '@portcullis/config';
import { createApiApp } from './bootstrap';
import { SCHEMA_FILE } from './graphql/graphql.options';

async function main(): Promise<void> {
  const app = await createApiApp(loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'error' }), {
    schemaFile: SCHEMA_FILE,
  });
  await app.init();
  await app.close();
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
