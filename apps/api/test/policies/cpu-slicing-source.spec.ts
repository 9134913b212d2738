/**
 * Keeps request handling from holding the API's one event loop for a whole export or a whole
 * chunk of simulated workloads: such loops go through the shared checkpoint of
 * @portcullis/platform (yieldEvery / mapSliced), so another tenant's request waits at most
 * about one slice (CPU_SLICE_MS) per turn, not for the whole render.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { API_SRC, apiSources } from '../support/sources';

describe('CPU slicing in the API source', () => {
  const files = apiSources();
  const file = (name: string) => files.find((f) => f.file === name)?.text ?? assert.fail(`${name} under ${API_SRC}`);

  it('no request renders a whole policy list in one synchronous call', () => {
    const offenders = files.filter((f) => /\bserializePolicyDocuments\(/.test(f.text)).map((f) => f.file);
    assert.deepEqual(offenders, [], 'render policy by policy with serializePolicyDocument inside mapSliced');
  });

  it('the export renders through mapSliced', () => {
    assert.match(
      file(path.join('policies', 'policy-as-code.service.ts')),
      /mapSliced\([^;]*?serializePolicyDocument\(/,
    );
  });

  it('the simulation checkpoints in its per-workload loop', () => {
    const text = file(path.join('inventory', 'simulation-stream.ts'));
    assert.match(text, /checkpoint = yieldEvery\(/);
    assert.match(
      text,
      /for \(let i = 0; i < bodies\.length; i\+\+\) \{\s*await checkpoint\(\);\s*out\[i\] = JSON\.parse/,
    );
    assert.match(
      text,
      /for \(const \[hash, namespace, kind, name, inScope, entries\] of rows\) \{\s*await this\.checkpoint\(\);/,
    );
  });

  it('every HTTP request is registered in flight until answered or dropped, so expensive loops stand aside for it', () => {
    const text = file(path.join('platform', 'request-logging.middleware.ts'));
    assert.match(text, /const done = trackInFlight\(ctx\);\s*res\.on\('close', done\);/);
    assert.match(text, /res\.on\('finish', \(\) => \{\s*done\(\);/);
  });
});
