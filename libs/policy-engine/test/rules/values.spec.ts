import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeImage, parseQuantity } from '@portcullis/policy-engine';

describe('parseQuantity (Kubernetes resource quantities)', () => {
  const cases: Array<[string, number | undefined]> = [
    ['500m', 0.5],
    ['2', 2],
    ['1.5', 1.5],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['100Mi', 100 * 2 ** 20],
    ['1k', 1000],
    ['1M', 1e6],
    ['1e3', 1000],
    ['1E3', 1000],
    ['.5', 0.5],
    ['128974848', 128974848],
    ['1Ki', 1024],
    ['+1', 1],
    ['1e400', undefined],
    ['1Gi ', undefined],
    ['-1', -1],
    ['100u', 100e-6],
    ['4Gb', undefined],
    ['', undefined],
    ['1.2.3', undefined],
    ['Gi', undefined],
    ['1 Gi', undefined],
    ['0x10', undefined],
  ];
  for (const [q, v] of cases) it(`${JSON.stringify(q)} -> ${v}`, () => assert.equal(parseQuantity(q), v));
});

describe('normalizeImage', () => {
  const cases: Array<[string, string | undefined, string?]> = [
    ['nginx', 'docker.io/library/nginx:latest', 'docker.io'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['library/nginx', 'docker.io/library/nginx:latest'],
    ['bitnami/redis:7.2', 'docker.io/bitnami/redis:7.2'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
    ['ghcr.io/org/team/tool:v1', 'ghcr.io/org/team/tool:v1', 'ghcr.io'],
    ['localhost:5000/app', 'localhost:5000/app:latest', 'localhost:5000'],
    ['localhost/app', 'localhost/app:latest', 'localhost'],
    ['registry:5000/app:1', 'registry:5000/app:1', 'registry:5000'],
    [`nginx@sha256:${'a'.repeat(64)}`, `docker.io/library/nginx@sha256:${'a'.repeat(64)}`],
    [`quay.io/x/y:1.0@sha256:${'b'.repeat(64)}`, `quay.io/x/y:1.0@sha256:${'b'.repeat(64)}`],
    ['docker.io/nginx', 'docker.io/library/nginx:latest', 'docker.io'],
    ['registry-1.docker.io/bitnami/redis', 'docker.io/bitnami/redis:latest', 'docker.io'],
    ['Registry.Example.com:443/a/b:v1', 'registry.example.com:443/a/b:v1', 'registry.example.com:443'],
    ['a/b/c/d', 'docker.io/a/b/c/d:latest', 'docker.io'],
    ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000'],
    [`nginx:1.27@sha256:${'c'.repeat(64)}`, `docker.io/library/nginx:1.27@sha256:${'c'.repeat(64)}`],
    ['UPPER/case', undefined],
    ['bad..host/x', undefined],
    ['host.io/x:', undefined],
    ['nginx@', undefined],
    [':tag', undefined],
    ['nginx@sha256:short', undefined],
    ['', undefined],
    ['with space', undefined],
  ];
  for (const [ref, normalized, registry] of cases) {
    it(`${JSON.stringify(ref)}`, () => {
      const r = normalizeImage(ref);
      assert.equal(r?.normalized, normalized);
      if (registry) assert.equal(r?.registry, registry);
    });
  }
});

describe('parseQuantity is stable across repeated calls (its cache returns what parsing does)', () => {
  it('the same answer the second time, numbers pass through, non-strings are undefined', () => {
    for (const q of ['250m', '4Gb', '2Gi']) assert.equal(parseQuantity(q), parseQuantity(q));
    assert.equal(parseQuantity(2), 2);
    assert.equal(parseQuantity(Number.NaN), undefined);
    assert.equal(parseQuantity({}), undefined);
  });
});

describe('normalizeImage digest and tag fields', () => {
  it('keeps the tag next to a digest, and defaults the tag only when neither is given', () => {
    assert.deepEqual(normalizeImage(`localhost:5000/team/app@sha256:${'a'.repeat(64)}`), {
      registry: 'localhost:5000',
      repository: 'team/app',
      digest: `sha256:${'a'.repeat(64)}`,
      normalized: `localhost:5000/team/app@sha256:${'a'.repeat(64)}`,
    });
    assert.deepEqual(normalizeImage('nginx'), {
      registry: 'docker.io',
      repository: 'library/nginx',
      tag: 'latest',
      normalized: 'docker.io/library/nginx:latest',
    });
  });
});
