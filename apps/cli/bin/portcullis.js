#!/usr/bin/env node
'use strict';
// `npx portcullis ...`: runs the compiled CLI, building the repository first if needed.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..', '..');
const main = path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(main)) {
  const res = spawnSync(process.execPath, [path.join(root, '.ci', 'build.js')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (res.status !== 0) process.exit(2);
}
require(main).main();
