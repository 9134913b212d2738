import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CanonicalFragment, CanonicalJsonError, canonicalJson } from '@portcullis/bundle';

const fromBits = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('canonicalJson', () => {
  it('writes RFC 8785 §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3), not by code points', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const order = [...canonicalJson(input).matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(order, [
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('sorts nested keys and leaves array order alone', () => {
    assert.equal(
      canonicalJson({ b: [3, 1, { z: 1, a: 2 }], a: { d: null, c: 'x' } }),
      '{"a":{"c":"x","d":null},"b":[3,1,{"a":2,"z":1}]}',
    );
  });

  const numbers: Array<[string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'], // -0
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, expected] of numbers) {
    it(`writes the IEEE-754 value 0x${bits} as ${expected} (RFC 8785 appendix B)`, () => {
      assert.equal(canonicalJson(fromBits(bits)), expected);
    });
  }

  it('writes 1e21, -0, 0.1 and integers in shortest ECMAScript form', () => {
    assert.equal(
      canonicalJson([1e21, -0, 0.1, 100, 1e20, 0.1 + 0.2]),
      '[1e+21,0,0.1,100,100000000000000000000,0.30000000000000004]',
    );
  });

  it('keeps non-ASCII text as UTF-8 and escapes only what JSON must', () => {
    assert.equal(canonicalJson({ s: 'Grüße \u2028 😀 \u001f "q" \\' }), '{"s":"Grüße \u2028 😀 \\u001f \\"q\\" \\\\"}');
  });

  it('treats an undefined property as absent, and a Date as its ISO string', () => {
    assert.equal(
      canonicalJson({ a: undefined, b: new Date('2025-01-02T03:04:05Z') }),
      '{"b":"2025-01-02T03:04:05.000Z"}',
    );
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['NaN', { a: [1, NaN] }, /^\$\.a\[1\]: NaN is not representable/],
    ['Infinity', { a: Infinity }, /^\$\.a: Infinity/],
    ['-Infinity', -Infinity, /^\$: -Infinity/],
    ['undefined at the top', undefined, /^\$: undefined is not JSON/],
    ['undefined in an array', [1, undefined], /^\$\[1\]: undefined/],
    ['a sparse-array hole', [1, , 3], /^\$\[1\]: a sparse-array hole/],
    ['a function', { f: () => 1 }, /^\$\.f: a function is not JSON/],
    ['a symbol', { s: Symbol('x') }, /^\$\.s: a symbol/],
    ['a bigint', { n: 10n }, /^\$\.n: a bigint/],
    ['a Map', { m: new Map() }, /^\$\.m: a Map object is not JSON/],
    ['a lone surrogate in a string', { s: 'a\ud800b' }, /^\$\.s: the string contains an unpaired UTF-16 surrogate/],
    ['a lone surrogate in a key', { ['k\udc00']: 1 }, /unpaired UTF-16 surrogate/],
    ['an invalid Date', { d: new Date('nope') }, /^\$\.d: an invalid Date/],
    ['an odd key in the path', { 'a b': [{ c: NaN }] }, /^\$\["a b"\]\[0\]\.c: NaN/],
  ];
  for (const [what, value, message] of refused) {
    it(`refuses ${what}, naming the path`, () => {
      assert.throws(
        () => canonicalJson(value),
        (e: unknown) => e instanceof CanonicalJsonError && message.test(e.message),
      );
    });
  }

  it('refuses a cycle instead of overflowing the stack', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = { back: a };
    assert.throws(() => canonicalJson(a), /^CanonicalJsonError: \$\.self\.back: the value contains itself/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"k":1},"b":[{"k":1}]}');
  });

  it('parses back to the same value and is a fixed point (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        const parsed = JSON.parse(text) as unknown;
        assert.equal(canonicalJson(parsed), text);
        assert.deepEqual(parsed, JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on property insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        assert.equal(canonicalJson(reversed), canonicalJson(o));
      }),
      { numRuns: 200 },
    );
  });

  it('embeds a fragment exactly as serialising its value in place would (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }), fc.string(), (o, key) => {
        const inline = canonicalJson({ ...o, [key]: { inner: o } });
        const embedded = canonicalJson({ ...o, [key]: { inner: CanonicalFragment.of(o) } });
        assert.equal(embedded, inline);
      }),
      { numRuns: 200 },
    );
  });

  it('a fragment of a non-JSON value is refused when it is made, naming the path', () => {
    assert.throws(() => CanonicalFragment.of({ a: [1, () => 1] }), /\$\.a\[1\]: a function is not JSON/);
  });
});
