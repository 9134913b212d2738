import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DEVELOPMENT_KEY_MARKER,
  SigningKeyError,
  generateSigningKey,
  loadKeyring,
  loadSigningKeys,
  type Keyring,
  type SigningKeySource,
} from '@portcullis/bundle';
import { pemOf, secretOf } from './fixtures';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-keys-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
function dirWith(files: Record<string, string>): string {
  const dir = path.join(root, `d${n++}`);
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
  return dir;
}

const older = generateSigningKey();
const newer = generateSigningKey();
const retired = generateSigningKey();
const publicPem = (k: typeof older): string => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const kids = (ring: Keyring): { active: string; all: string[]; published: string[] } => ({
  active: ring.active.kid,
  all: ring.all.map((k) => k.kid),
  published: ring.published.map((k) => k.kid),
});

function refused(source: SigningKeySource, message: RegExp): void {
  assert.throws(
    () => loadSigningKeys(source),
    (e: unknown) =>
      e instanceof SigningKeyError &&
      message.test(e.message) &&
      !e.message.includes('PRIVATE KEY') &&
      secretOf(older).every((s) => !e.message.includes(s)),
  );
}

describe('loadSigningKeys from a directory', () => {
  it('signs with the key whose file name sorts last and publishes every key, retired public-only ones too', () => {
    const dir = dirWith({
      '2025-01-01.pem': pemOf(older),
      '2025-06-01.pem': pemOf(newer),
      '2024-06-01.pem': publicPem(retired),
      'README.txt': 'not a key',
    });
    assert.deepEqual(kids(loadSigningKeys({ directory: dir })), {
      active: newer.kid,
      all: [newer.kid, older.kid],
      published: [newer.kid, older.kid, retired.kid],
    });
  });

  it('lets activeKid pick the signing key (e.g. to roll back a rotation)', () => {
    const dir = dirWith({ 'a.pem': pemOf(older), 'b.pem': pemOf(newer) });
    assert.equal(loadSigningKeys({ directory: dir, activeKid: older.kid }).active.kid, older.kid);
  });

  it('loads the same keys through loadKeyring (the first API) and follows symlinks, ignoring hidden entries', () => {
    const target = dirWith({ 'k.pem': pemOf(older) });
    const dir = dirWith({});
    fs.symlinkSync(path.join(target, 'k.pem'), path.join(dir, 'key.pem'));
    fs.mkdirSync(path.join(dir, '..data.pem'));
    assert.equal(loadKeyring(dir, { generateIfEmpty: false }).active.kid, older.kid);
  });

  it('generates a key, readable by its owner only, when asked and the directory is empty or missing', () => {
    const dir = path.join(root, `gen${n++}`, 'keys');
    const ring = loadSigningKeys({ directory: dir, generateIfEmpty: true });
    const files = fs.readdirSync(dir);
    assert.equal(files.length, 1);
    assert.equal(fs.statSync(path.join(dir, files[0]!)).mode & 0o777, 0o600);
    assert.equal(
      loadSigningKeys({ directory: dir, generateIfEmpty: true }).active.kid,
      ring.active.kid,
      'the generated key is kept',
    );
  });

  it('refuses an empty directory without generateIfEmpty, naming it', () => {
    const dir = dirWith({});
    refused({ directory: dir }, new RegExp(`no signing key \\(\\*\\.pem, Ed25519\\) in ${dir}`));
  });

  it('refuses a directory of public keys only: nothing could sign', () => {
    refused({ directory: dirWith({ 'old.pem': publicPem(retired) }) }, /holds no private key to sign with/);
  });

  it('refuses an RSA key, naming the file', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const dir = dirWith({ 'rsa.pem': rsa });
    refused({ directory: dir }, new RegExp(`${dir}/rsa\\.pem is a rsa key; signing keys are Ed25519`));
  });

  it('refuses a corrupt PEM without echoing its content', () => {
    const corrupt = pemOf(older).replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!');
    const dir = dirWith({ 'bad.pem': corrupt, 'empty.pem': '' });
    refused({ directory: dir }, /(bad|empty)\.pem (is not a readable private key \(PRIVATE KEY\)|holds no PEM block)/);
  });

  it('refuses an activeKid that is not loaded, or is public only', () => {
    const dir = dirWith({ 'a.pem': pemOf(older), 'r.pem': publicPem(retired) });
    refused({ directory: dir, activeKid: 'nope' }, /the active key nope is not among the loaded keys/);
    refused({ directory: dir, activeKid: retired.kid }, /is a public key only/);
  });

  it('refuses the same key twice', () => {
    refused(
      { directory: dirWith({ 'a.pem': pemOf(older), 'b.pem': pemOf(older) }) },
      /a\.pem is the same key as .*b\.pem|b\.pem is the same key as .*a\.pem|used by both/,
    );
  });
});

describe('loadSigningKeys from files', () => {
  it('signs with the first private key listed', () => {
    const dir = dirWith({ 'x.pem': pemOf(older), 'y.pem': pemOf(newer) });
    const ring = loadSigningKeys({ files: [path.join(dir, 'y.pem'), path.join(dir, 'x.pem')] });
    assert.deepEqual(kids(ring), { active: newer.kid, all: [newer.kid, older.kid], published: [newer.kid, older.kid] });
  });

  it('names a missing file', () => {
    refused({ files: [path.join(root, 'missing.pem')] }, /cannot read signing key file .*missing\.pem: ENOENT/);
  });
});

describe('loadSigningKeys from an environment value (BUNDLE_SIGNING_KEYS)', () => {
  it('reads JSON with pem, pemBase64 and file entries, explicit kids and an active kid', () => {
    const dir = dirWith({ 'old.pem': publicPem(retired) });
    const value = JSON.stringify({
      active: '2025-06',
      keys: [
        { kid: '2025-01', pem: pemOf(older) },
        { kid: '2025-06', pemBase64: Buffer.from(pemOf(newer)).toString('base64') },
        { file: path.join(dir, 'old.pem') },
      ],
    });
    assert.deepEqual(kids(loadSigningKeys({ env: value })), {
      active: '2025-06',
      all: ['2025-01', '2025-06'],
      published: ['2025-01', '2025-06', retired.kid],
    });
  });

  it('reads PEM text, with real or escaped newlines; the first private key signs', () => {
    const text = `${pemOf(newer)}${pemOf(older)}`;
    assert.deepEqual(kids(loadSigningKeys({ env: text })).all, [newer.kid, older.kid]);
    assert.equal(loadSigningKeys({ env: text.replace(/\n/g, '\\n') }).active.kid, newer.kid);
  });

  it('reads base64 of PEM text', () => {
    assert.equal(
      loadSigningKeys({ env: Buffer.from(pemOf(older) + publicPem(retired)).toString('base64') }).active.kid,
      older.kid,
    );
  });

  it('reads a directory path or a comma-separated list of files', () => {
    const dir = dirWith({ 'a.pem': pemOf(older), 'b.pem': pemOf(newer) });
    assert.equal(loadSigningKeys({ env: dir }).active.kid, newer.kid);
    assert.equal(
      loadSigningKeys({ env: `${path.join(dir, 'a.pem')}, ${path.join(dir, 'b.pem')}` }).active.kid,
      older.kid,
    );
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an empty value', '  ', /^BUNDLE_SIGNING_KEYS is empty$/],
    ['broken JSON', '{"keys": [', /starts with "\{" but is not valid JSON/],
    ['JSON without keys', '{"active":"x"}', /BUNDLE_SIGNING_KEYS\.keys is not a non-empty array/],
    [
      'an entry with two sources',
      JSON.stringify({ keys: [{ pem: 'a', file: 'b' }] }),
      /keys\[0\] needs exactly one of "pem", "pemBase64", "file"/,
    ],
    ['an entry with no PEM in it', JSON.stringify({ keys: [{ pem: 'hello' }] }), /keys\[0\] holds no PEM block/],
    [
      'a kid on two PEM blocks',
      JSON.stringify({ keys: [{ kid: 'k', pem: pemOf(older) + pemOf(newer) }] }),
      /keys\[0\] has a kid but holds 2 PEM blocks/,
    ],
    [
      'a duplicate kid',
      JSON.stringify({
        keys: [
          { kid: 'k', pem: pemOf(older) },
          { kid: 'k', pem: pemOf(newer) },
        ],
      }),
      /key id k is used by both BUNDLE_SIGNING_KEYS\.keys\[0\] and BUNDLE_SIGNING_KEYS\.keys\[1\]/,
    ],
    [
      'an unknown active kid',
      JSON.stringify({ active: 'x', keys: [{ pem: pemOf(older) }] }),
      /the active key x is not among the loaded keys/,
    ],
    [
      'a path that does not exist',
      '/nonexistent/keys',
      /neither JSON, PEM, base64 of PEM, nor an existing directory or file \(no \/nonexistent\/keys\)/,
    ],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what}, naming the variable and entry`, () => refused({ env: value }, message));
  }

  it('uses the variable name it is given in messages', () => {
    refused({ env: '', name: 'AGENT_KEYS' }, /^AGENT_KEYS is empty$/);
  });
});

describe('keys a development start generated', () => {
  const generatedIn = (): { dir: string; file: string; text: string } => {
    const dir = path.join(root, `gen${n++}`);
    loadKeyring(dir, { generateIfEmpty: true });
    const [name] = fs.readdirSync(dir);
    const file = path.join(dir, name!);
    return { dir, file, text: fs.readFileSync(file, 'utf8') };
  };

  it('are marked in the file itself, above the PEM block, and still load where keys may be generated', () => {
    const { dir, text } = generatedIn();
    assert.ok(text.startsWith(`${DEVELOPMENT_KEY_MARKER}\n-----BEGIN PRIVATE KEY-----`), text.split('\n')[0]);
    assert.equal(loadKeyring(dir, { generateIfEmpty: true }).all.length, 1);
  });

  it('are refused where keys are not generated (production), naming the file and what to do', () => {
    const { dir, file } = generatedIn();
    refused(
      { directory: dir },
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a signing key a development start generated .*Put the production Ed25519 private key \\(PEM\\) in its place`,
      ),
    );
    assert.throws(() => loadKeyring(dir, { generateIfEmpty: false }), SigningKeyError);
  });

  it('are refused wherever they are copied: a file list, an environment value, base64 of it, a JSON spec', () => {
    const { file, text } = generatedIn();
    refused({ files: [file] }, /a development start generated/);
    refused({ env: text }, /^BUNDLE_SIGNING_KEYS is a signing key a development start generated/);
    refused({ env: Buffer.from(text).toString('base64') }, /a development start generated/);
    refused(
      { env: JSON.stringify({ keys: [{ pem: pemOf(older) }, { pem: text }] }) },
      /^BUNDLE_SIGNING_KEYS\.keys\[1\] is a signing key a development start generated/,
    );
  });

  it('load anywhere when explicitly allowed', () => {
    const { file } = generatedIn();
    assert.equal(loadSigningKeys({ files: [file], allowDevelopmentKeys: true }).all.length, 1);
  });

  it('a key without the marker loads in production as before', () => {
    const dir = dirWith({ 'prod.pem': pemOf(older) });
    assert.equal(loadKeyring(dir, { generateIfEmpty: false }).active.kid, older.kid);
  });
});
