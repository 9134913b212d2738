#!/usr/bin/env node
// Build step shared by `npm start`, `npm test`, `npm run bench` and the Dockerfile:
// regenerates the Prisma client when prisma/schema.prisma changed, then compiles
// the whole monorepo incrementally with tsc (so "builds if needed" is cheap).
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const schemaPath = path.join(root, 'prisma', 'schema.prisma');
const generatedDir = path.join(root, 'libs', 'db', 'src', 'generated');
const stampPath = path.join(generatedDir, '.schema-sha256');

function run(cmd, args, env) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (res.status !== 0) {
    console.error(`build: ${path.basename(cmd)} ${args.join(' ')} failed (exit ${res.status})`);
    process.exit(res.status || 1);
  }
}

// Prisma's CLI downloads a native schema engine on first use. `prisma generate` never
// executes it, so where the download is impossible we point the CLI at a placeholder;
// where the engine is present (or downloadable) Prisma behaves exactly as it intends.
function schemaEngineEnv() {
  if (process.env.PRISMA_SCHEMA_ENGINE_BINARY) return {};
  const enginesDir = path.join(root, 'node_modules', '@prisma', 'engines');
  const present = fs.existsSync(enginesDir) && fs.readdirSync(enginesDir).some((f) => f.startsWith('schema-engine'));
  if (present) return {};
  const placeholder = path.join(root, 'node_modules', '.cache', 'portcullis', 'schema-engine-placeholder');
  fs.mkdirSync(path.dirname(placeholder), { recursive: true });
  if (!fs.existsSync(placeholder)) fs.writeFileSync(placeholder, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  return { PRISMA_SCHEMA_ENGINE_BINARY: placeholder };
}

const schemaHash = createHash('sha256').update(fs.readFileSync(schemaPath)).digest('hex');
const current = fs.existsSync(stampPath) ? fs.readFileSync(stampPath, 'utf8').trim() : '';
if (current !== schemaHash) {
  const prismaBin = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
  run(process.execPath, [prismaBin, 'generate', '--config', 'prisma/prisma.config.ts'], {
    ...schemaEngineEnv(),
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  });
  fs.writeFileSync(stampPath, schemaHash + '\n');
}

run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);

// tsc never deletes what it emitted: a source moved or deleted would leave its compiled
// module in dist, where `npm test` would still run a removed spec and a stale module could
// satisfy an import that a fresh clone cannot. Remove output whose source is gone.
function pruneStale(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      pruneStale(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(entry.name);
    if (!m) continue;
    const source = path.join(root, path.relative(path.join(root, 'dist'), dir), `${m[1]}.ts`);
    if (!fs.existsSync(source)) fs.rmSync(full);
  }
}
for (const top of ['apps', 'libs', 'bench']) pruneStale(path.join(root, 'dist', top));
