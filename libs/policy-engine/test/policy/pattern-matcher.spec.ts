import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MATCH_MODES,
  MAX_PATTERN_LENGTH,
  MAX_SUBJECT_LENGTH,
  RULE_CATALOG,
  SCHEMA_PATTERNS,
  compileGlob,
  compileMatcher,
  matches,
  namespaceDecision,
  type JsonSchema,
  type MatchCounter,
  type MatchMode,
} from '@portcullis/policy-engine';

/** The reference: a plain dynamic programme over pattern x subject, obviously right and never used in production. */
function referenceGlob(pattern: string, subject: string, questionMark = true): boolean {
  // at[j]: the pattern read so far matches subject[0..j)
  let at = Array.from({ length: subject.length + 1 }, (_, j) => j === 0);
  for (const p of pattern) {
    const next = new Array<boolean>(subject.length + 1).fill(false);
    for (let j = 0; j <= subject.length; j++) {
      if (p === '*') next[j] = at[j]! || (j > 0 && next[j - 1]!);
      else if (j > 0) next[j] = at[j - 1]! && ((p === '?' && questionMark) || subject[j - 1] === p);
    }
    at = next;
  }
  return at[subject.length]!;
}

function referenceMode(mode: MatchMode, pattern: string, subject: string): boolean {
  switch (mode) {
    case 'EQUALS':
      return subject === pattern;
    case 'PREFIX':
      return subject.startsWith(pattern);
    case 'SUFFIX':
      return subject.endsWith(pattern);
    case 'CONTAINS':
      return subject.includes(pattern);
    case 'GLOB':
      return referenceGlob(pattern, subject);
  }
}

const steps = (f: (c: MatchCounter) => boolean): { result: boolean; steps: number } => {
  const counter = { steps: 0 };
  const result = f(counter);
  return { result, steps: counter.steps };
};

// small alphabets so that random patterns and subjects match often enough to matter
const smallPattern = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '.', '\\'), maxLength: 12 });
const smallSubject = fc.string({ unit: fc.constantFrom('a', 'b', '.', '\\', '?', '*', '\n'), maxLength: 16 });

// adversarial shapes: many stars between near-misses, long runs of one letter, the finding's own pattern
const adversarialPattern = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 120 }), fc.constantFrom('a', 'ab', '?a', 'a?'))
    .map(([n, unit]) => `${`*${unit}`.repeat(n)}*b`),
  fc.tuple(fc.integer({ min: 1, max: 250 }), fc.constantFrom('a', '?')).map(([n, c]) => `${c.repeat(n)}b`),
  fc.string({ unit: fc.constantFrom('a', '*', '?', 'b'), minLength: 1, maxLength: MAX_PATTERN_LENGTH }),
);
const adversarialSubject = fc.oneof(
  fc.integer({ min: 0, max: MAX_SUBJECT_LENGTH }).map((n) => 'a'.repeat(n)),
  fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: MAX_SUBJECT_LENGTH }),
  fc
    .tuple(fc.integer({ min: 0, max: 500 }), fc.constantFrom('ab', 'aab', 'ba'))
    .map(([n, unit]) => unit.repeat(n).slice(0, MAX_SUBJECT_LENGTH)),
);

describe('pattern matcher: linear, no regular expression', () => {
  it('agrees with a dynamic-programming reference on small random globs and subjects', () => {
    fc.assert(
      fc.property(smallPattern, smallSubject, (p, s) => {
        assert.equal(compileGlob(p)(s), referenceGlob(p, s), `glob ${JSON.stringify(p)} on ${JSON.stringify(s)}`);
        assert.equal(
          compileGlob(p, { questionMark: false })(s),
          referenceGlob(p, s, false),
          `glob (? literal) ${JSON.stringify(p)} on ${JSON.stringify(s)}`,
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the string methods for EQUALS, PREFIX, SUFFIX, CONTAINS (and the reference for GLOB)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MATCH_MODES), smallPattern, smallSubject, (mode, p, s) => {
        assert.equal(
          compileMatcher(mode, p)(s),
          referenceMode(mode, p, s),
          `${mode} ${JSON.stringify(p)} on ${JSON.stringify(s)}`,
        );
        assert.equal(matches(mode, p, s), referenceMode(mode, p, s));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the old semantics: anchored, ? one character, everything else itself (regex characters and backslash included)', () => {
    const cases: Array<[string, string, boolean]> = [
      ['prod-*', 'prod-eu', true],
      ['prod-*', 'xprod-eu', false],
      ['*-prod', 'eu-prod-1', false],
      ['team-?', 'team-a', true],
      ['team-?', 'team-ab', false],
      ['a.b', 'axb', false],
      ['a.b', 'a.b', true],
      ['a+b', 'a+b', true],
      ['(x|y)', '(x|y)', true],
      ['(x|y)', 'x', false],
      ['a\\*', 'a\\bc', true],
      ['^$', '^$', true],
      ['[ab]', 'a', false],
      ['', '', true],
      ['', 'a', false],
      ['*', '', true],
      ['**', 'anything', true],
    ];
    for (const [p, s, want] of cases) assert.equal(compileGlob(p)(s), want, `${p} on ${s}`);
    assert.equal(compileGlob('docker.io/?/*', { questionMark: false })('docker.io/a/nginx'), false);
    assert.equal(compileGlob('docker.io/?/*', { questionMark: false })('docker.io/?/nginx'), true);
  });

  it('patterns longer than 31 characters (several words of state) match like the reference', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), minLength: 30, maxLength: 140 }),
        fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 200 }),
        (p, s) => {
          assert.equal(compileGlob(p)(s), referenceGlob(p, s));
        },
      ),
      { numRuns: 300 },
    );
    const p = `${'a'.repeat(70)}*${'b'.repeat(70)}`;
    assert.equal(compileGlob(p)(`${'a'.repeat(70)}xyz${'b'.repeat(70)}`), true);
    assert.equal(compileGlob(p)(`${'a'.repeat(70)}xyz${'b'.repeat(69)}`), false);
  });

  it('steps stay within (|pattern|+1) x (|subject|+1) on adversarial patterns and subjects', () => {
    fc.assert(
      fc.property(adversarialPattern, adversarialSubject, fc.constantFrom(...MATCH_MODES), (p, s, mode) => {
        const glob = steps((c) => compileGlob(p)(s, c));
        assert.ok(glob.steps <= (p.length + 1) * (s.length + 1), `glob ${p.length}x${s.length}: ${glob.steps} steps`);
        // and the words per character: one per 32 pattern characters
        assert.ok(
          glob.steps <= s.length * (Math.floor(p.length / 32) + 1),
          `glob ${p.length}x${s.length}: ${glob.steps} steps`,
        );
        const other = steps((c) => compileMatcher(mode, p)(s, c));
        assert.ok(
          other.steps <= (p.length + 1) * (s.length + 1),
          `${mode} ${p.length}x${s.length}: ${other.steps} steps`,
        );
      }),
      { numRuns: 400 },
    );
  });

  it('the finding: *a*a*a*a*a*a*a*a*a*a*a*a*b on a 60-character namespace costs one step per character', () => {
    const pattern = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
    const ns = 'a'.repeat(60);
    const r = steps((c) => compileGlob(pattern)(ns, c));
    assert.equal(r.result, false);
    assert.equal(r.steps, 60);
    // a 200-character pod name against a long exemption glob: still one pass, ceil(m/32) words per character
    const long = `${'*a'.repeat(100)}*b`;
    const name = 'a'.repeat(200);
    const e = steps((c) => compileMatcher('GLOB', long)(name, c));
    assert.equal(e.result, false);
    assert.ok(e.steps <= 200 * 4, `${e.steps} steps`);
  });

  it('a subject longer than MAX_SUBJECT_LENGTH matches nothing and costs nothing', () => {
    const huge = 'a'.repeat(MAX_SUBJECT_LENGTH + 1);
    for (const mode of MATCH_MODES) {
      const r = steps((c) => compileMatcher(mode, '*')(huge, c));
      assert.equal(r.result, false, mode);
      assert.equal(r.steps, 0, mode);
    }
    assert.equal(compileGlob('*')('a'.repeat(MAX_SUBJECT_LENGTH)), true);
  });

  it('namespaceDecision names the pattern that decided, through the same matcher', () => {
    assert.deepEqual(
      namespaceDecision({ include: ['*a*a*a*a*a*a*a*a*a*a*a*a*b', 'team-*'], exclude: ['team-?'] }, 'team-ab'),
      { applies: true, include: 'team-*', exclude: null },
    );
    assert.deepEqual(namespaceDecision({ include: [], exclude: ['team-?'] }, 'team-a'), {
      applies: false,
      include: null,
      exclude: 'team-?',
    });
  });

  it("rule schemas use only the engine's literal patterns (none is compiled from text)", () => {
    const patterns: string[] = [];
    const walk = (s: JsonSchema | undefined): void => {
      if (!s) return;
      if (s.pattern !== undefined) patterns.push(s.pattern);
      walk(s.items);
      for (const sub of Object.values(s.properties ?? {})) walk(sub);
    };
    for (const r of RULE_CATALOG) walk(r.parameters);
    assert.ok(patterns.length > 0);
    for (const p of patterns) assert.ok(SCHEMA_PATTERNS.has(p), `schema pattern ${p} is not one of SCHEMA_PATTERNS`);
  });
});
