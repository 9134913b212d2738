import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';

const testDb = process.env['TEST_DATABASE_URL'];

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'tenant', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: testDb },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('portcullis tenant', { skip: testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`' }, () => {
  it('onboards a tenant with its owner and two default policies, then lists, disables and enables it', () => {
    const tenant = randomUUID();
    const owner = randomUUID();
    const created = cli('create', '--tenant', tenant, '--owner', owner, '--name', 'Fabrikam', '--json');
    assert.equal(created.code, 0, created.stderr);
    const summary = JSON.parse(created.stdout) as { id: string; name: string; status: string; owners: string[] };
    assert.deepEqual(
      { ...summary, createdAt: undefined },
      { id: tenant, name: 'Fabrikam', status: 'ACTIVE', owners: [owner], createdAt: undefined },
    );

    const listed = cli('list');
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, new RegExp(`${tenant}\\s+ACTIVE\\s+Fabrikam`));

    assert.match(cli('disable', '--tenant', tenant).stdout, /DISABLED/);
    assert.match(cli('enable', '--tenant', tenant).stdout, /ACTIVE/);
  });

  it('refuses a second onboarding of the same tenant, bad ids and missing flags with exit 2 and one clear line', () => {
    const tenant = randomUUID();
    assert.equal(cli('create', '--tenant', tenant, '--owner', randomUUID()).code, 0);
    const again = cli('create', '--tenant', tenant, '--owner', randomUUID());
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already onboarded/);

    const badTenant = cli('create', '--tenant', 'contoso', '--owner', randomUUID());
    assert.equal(badTenant.code, 2);
    assert.match(badTenant.stderr, /--tenant "contoso" is not an Entra ID tenant id/);

    const missing = cli('create', '--tenant', randomUUID());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--owner is required/);

    const unknown = cli('create', '--tenant', randomUUID(), '--owner', randomUUID(), '--colour', 'red');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /colour/);
  });
});
