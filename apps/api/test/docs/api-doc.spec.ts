/**
 * docs/api.md cannot drift from the schema: every query and mutation of the committed
 * schema.gql has an example there, and every example's GraphQL text parses and validates
 * against that schema, its variables fit the operation, and its pasted answer names the
 * operation's root fields.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { Kind, buildSchema, getVariableValues, parse, validate, type OperationDefinitionNode } from 'graphql';
import { repoPath } from '@portcullis/config';

interface Block {
  readonly lang: string;
  readonly label: string;
  readonly text: string;
  readonly line: number;
}

/** Fenced blocks of a markdown file, with the line each starts on. */
function fencedBlocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)(?:\s+(\w+))?\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    assert.ok(i < lines.length, `docs/api.md:${start + 1}: a fenced block is never closed`);
    out.push({ lang: open[1]!, label: open[2] ?? '', text: body.join('\n'), line: start + 1 });
  }
  return out;
}

/** Each graphql block with the `json variables` and `json response` blocks that follow it (before the next graphql block). */
function examples(blocks: readonly Block[]): Array<{ query: Block; variables?: Block; response?: Block }> {
  const out: Array<{ query: Block; variables?: Block; response?: Block }> = [];
  for (const b of blocks) {
    if (b.lang === 'graphql') out.push({ query: b });
    else if (b.lang === 'json' && out.length > 0 && (b.label === 'variables' || b.label === 'response')) {
      const last = out[out.length - 1]!;
      if (last[b.label] === undefined) last[b.label] = b;
    }
  }
  return out;
}

describe('docs/api.md', () => {
  const schema = buildSchema(fs.readFileSync(repoPath('apps', 'api', 'schema.gql'), 'utf8'));
  const doc = fs.readFileSync(repoPath('docs', 'api.md'), 'utf8');
  const all = examples(fencedBlocks(doc));

  it('has an example for every query and mutation of schema.gql', () => {
    const used = new Set<string>();
    for (const { query } of all) {
      for (const def of parse(query.text).definitions) {
        if (def.kind !== Kind.OPERATION_DEFINITION) continue;
        for (const sel of def.selectionSet.selections)
          if (sel.kind === Kind.FIELD) used.add(`${def.operation}.${sel.name.value}`);
      }
    }
    const missing = [
      ...Object.keys(schema.getQueryType()!.getFields()).map((f) => `query.${f}`),
      ...Object.keys(schema.getMutationType()!.getFields()).map((f) => `mutation.${f}`),
    ].filter((f) => !used.has(f));
    assert.deepEqual(missing, [], 'operations of schema.gql without an example in docs/api.md');
    assert.ok(all.length >= used.size, 'at least one example per operation');
  });

  it('every example parses and validates against the schema, with variables that fit', () => {
    for (const { query, variables, response } of all) {
      const where = `docs/api.md:${query.line}`;
      const ast = parse(query.text);
      assert.deepEqual(
        validate(schema, ast).map((e) => e.message),
        [],
        where,
      );
      const op = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
      const vars = variables ? (JSON.parse(variables.text) as Record<string, unknown>) : {};
      const coerced = getVariableValues(schema, op.variableDefinitions ?? [], vars);
      assert.deepEqual(coerced.errors?.map((e) => e.message) ?? [], [], `${where}: variables`);
      if (response) {
        const answer = JSON.parse(response.text) as { data?: Record<string, unknown> | null; errors?: unknown[] };
        const roots = op.selectionSet.selections.flatMap((s) =>
          s.kind === Kind.FIELD ? [s.alias?.value ?? s.name.value] : [],
        );
        if (answer.data)
          assert.deepEqual(Object.keys(answer.data), roots, `${where}: the answer pasted is for another operation`);
        else
          assert.ok(Array.isArray(answer.errors) && answer.errors.length > 0, `${where}: an answer has data or errors`);
      }
    }
  });

  it('the checks bite: a field the schema does not have fails validation', () => {
    const [first] = all;
    const broken = parse(first!.query.text.replace(/\{\s*me\s*\{/, '{ me { noSuchField '));
    assert.notDeepEqual(validate(schema, broken), []);
  });
});
