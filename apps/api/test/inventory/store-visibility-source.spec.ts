/**
 * The inventory's SQL moved into @portcullis/inventory, out of reach of the source scan in
 * access/visibility-source.spec.ts, which looks for table names: the store's reads for a
 * caller take the readable-scope condition as a parameter, and this keeps every API caller of
 * them getting it from tenancy/visibility.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';

const API_SRC = repoPath('apps', 'api', 'src');
/** InventoryStore's reads on behalf of a principal (their `scope` is the caller's readable scopes). */
const STORE_READ = /\.(events|summary|auditToDenyRows|simulationRecord)\(\s*(tx|principal\.tenantId)\b/;

function sources(dir: string, out: Array<{ file: string; text: string }> = []): Array<{ file: string; text: string }> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, out);
    else if (entry.name.endsWith('.ts'))
      out.push({ file: path.relative(API_SRC, full), text: readFileSync(full, 'utf8') });
  }
  return out;
}

describe('inventory store reads in the API source', () => {
  const files = sources(API_SRC).filter((f) => f.text.includes("from '@portcullis/inventory'"));

  it('finds the services that read through the store', () => {
    const readers = files
      .filter((f) => STORE_READ.test(f.text))
      .map((f) => path.basename(f.file))
      .sort();
    assert.deepEqual(readers, [
      'admission-inventory.service.ts',
      'audit-to-deny.service.ts',
      'policy-simulator.service.ts',
    ]);
  });

  it('every one of them builds the scope condition with tenancy/visibility', () => {
    const offenders = files.filter(
      (f) =>
        STORE_READ.test(f.text) &&
        !(f.text.includes("tenancy/visibility'") && /Visibility\.of\(principal\)\.sql\(/.test(f.text)),
    );
    assert.deepEqual(
      offenders.map((f) => f.file),
      [],
    );
  });
});
