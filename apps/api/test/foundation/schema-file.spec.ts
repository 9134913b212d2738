import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { NO_DB_REASON, startApi, testDatabaseConfigured } from '@portcullis/testing';

describe('committed schema.gql', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  it('equals the schema the code generates (regenerate with `npm run schema`)', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'schema-')), 'schema.gql');
    const h = await startApi({}, { schemaFile: out });
    await h.close();
    const generated = fs.readFileSync(out, 'utf8');
    const committed = fs.readFileSync(repoPath('apps', 'api', 'schema.gql'), 'utf8');
    assert.equal(committed, generated, 'apps/api/schema.gql is stale: run `npm run schema` and commit it');
  });
});
