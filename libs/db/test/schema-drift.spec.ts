/**
 * The DDL is hand-written SQL and the models are schema.prisma: this test fails when
 * they disagree (a table, a column, its nullability or its type), in either direction.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { Client } from 'pg';
import { repoPath } from '@portcullis/config';

interface ModelField {
  readonly column: string;
  readonly type: string;
  readonly optional: boolean;
  readonly list: boolean;
  readonly native?: string;
}

function parseSchema(text: string) {
  const enums = new Set([...text.matchAll(/^enum\s+(\w+)\s*\{/gm)].map((m) => m[1]!));
  const modelNames = new Set([...text.matchAll(/^model\s+(\w+)\s*\{/gm)].map((m) => m[1]!));
  const tables = new Map<string, ModelField[]>();
  for (const m of text.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const body = m[2]!;
    const table = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? m[1]!;
    const fields: ModelField[] = [];
    for (const raw of body.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      const f = /^(\w+)\s+(\w+)(\[\])?(\?)?(.*)$/.exec(line);
      if (!f || line.startsWith('@@')) continue;
      const [, name, type, list, optional, attrs] = f;
      if (modelNames.has(type!) || attrs!.includes('@relation')) continue;
      fields.push({
        column: /@map\("([^"]+)"\)/.exec(attrs!)?.[1] ?? name!,
        type: enums.has(type!) ? 'enum' : type!,
        optional: Boolean(optional),
        list: Boolean(list),
        native: /@db\.(\w+)/.exec(attrs!)?.[1],
      });
    }
    tables.set(table, fields);
  }
  return tables;
}

const PG_TYPES: Record<string, readonly string[]> = {
  String: ['text', 'character varying', 'uuid'],
  Int: ['integer'],
  BigInt: ['bigint'],
  Boolean: ['boolean'],
  DateTime: ['timestamp with time zone'],
  Json: ['jsonb'],
  Bytes: ['bytea'],
  enum: ['USER-DEFINED'],
};

/** Element types of array columns, as information_schema's udt_name spells them without its leading underscore. */
const PG_ELEMENT_TYPES: Record<string, readonly string[]> = { String: ['text'], BigInt: ['int8'], Int: ['int4'] };

const testDb = process.env['TEST_DATABASE_URL'];

describe(
  'schema.prisma matches the migrated database',
  { skip: testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`' },
  () => {
    it('every model column exists with the same type and nullability, and nothing extra', async () => {
      const models = parseSchema(fs.readFileSync(repoPath('prisma', 'schema.prisma'), 'utf8'));
      const c = new Client({ connectionString: testDb });
      await c.connect();
      const { rows } = await c.query<{
        table_name: string;
        column_name: string;
        data_type: string;
        is_nullable: string;
        udt_name: string;
      }>(
        `SELECT table_name, column_name, data_type, is_nullable, udt_name FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = ANY($1)`,
        [[...models.keys()]],
      );
      await c.end();
      const problems: string[] = [];
      for (const [table, fields] of models) {
        const cols = rows.filter((r) => r.table_name === table);
        if (cols.length === 0) {
          problems.push(`table ${table} is modelled but not migrated`);
          continue;
        }
        for (const f of fields) {
          const col = cols.find((r) => r.column_name === f.column);
          if (!col) {
            problems.push(`${table}.${f.column} is modelled but not migrated`);
            continue;
          }
          const dataType = f.list ? col.udt_name.replace(/^_/, '') : col.data_type;
          const expected = f.list
            ? (PG_ELEMENT_TYPES[f.type] ?? [])
            : f.native === 'Uuid'
              ? ['uuid']
              : f.native === 'Json'
                ? ['json']
                : (PG_TYPES[f.type] ?? []);
          if (!expected.includes(dataType) || (f.list && col.data_type !== 'ARRAY')) {
            problems.push(
              `${table}.${f.column}: model type ${f.type}${f.list ? '[]' : ''} vs column ${col.data_type}/${col.udt_name}`,
            );
          }
          if ((col.is_nullable === 'YES') !== f.optional) {
            problems.push(
              `${table}.${f.column}: model ${f.optional ? 'optional' : 'required'} vs column ${col.is_nullable === 'YES' ? 'nullable' : 'NOT NULL'}`,
            );
          }
        }
        for (const col of cols) {
          if (!fields.some((f) => f.column === col.column_name))
            problems.push(`${table}.${col.column_name} is migrated but not modelled`);
        }
      }
      assert.deepEqual(problems, []);
    });
  },
);
