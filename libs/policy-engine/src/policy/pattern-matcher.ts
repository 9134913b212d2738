import type { MatchCounter } from '../types';
import type { MatchMode } from './model';

/**
 * The one matcher for every user pattern (namespace scopes, exemptions, allowed images,
 * agent exclusions), in the engine, the API, the agent and the CLI. Patterns come from
 * admins and readers' drafts, subjects from whoever deploys: both are untrusted, so no
 * pattern ever becomes a regular expression (a backtracking engine is exponential on
 * `*a*a*a...b`). A pattern is compiled to a bit-parallel automaton instead: state i means
 * "the first i characters of the pattern matched", a `*` is a self-loop on its state, and
 * each subject character advances every state at once. Cost per subject character is one
 * pass over ceil((m+1)/32) words (m = pattern characters other than `*`), so a match is
 * O(|pattern| x |subject|) at worst and O(|subject|) for patterns of up to 31 characters.
 */

export type Matcher = (subject: string, counter?: MatchCounter) => boolean;

/** Longest pattern accepted anywhere (image references are the longest: registry, path, tag and digest). */
export const MAX_PATTERN_LENGTH = 512;
/** Longest namespace pattern: a DNS subdomain's length, as the namespace scope has always accepted. */
export const MAX_NAMESPACE_PATTERN_LENGTH = 253;
/** Most patterns in one list (a scope's include or exclude, an exemption's namespaces, names or images, agent exclusions). */
export const MAX_PATTERNS_PER_LIST = 100;
/**
 * Longest subject ever matched. Kubernetes names are at most 253 characters, namespaces 63,
 * and a valid image reference about 530 (name 255, tag 128, digest); a longer subject is
 * not a real one and matches no pattern, which makes an exemption or an allowed image not
 * apply (the safe side), and keeps one crafted pod from costing more than this allows.
 */
export const MAX_SUBJECT_LENGTH = 1024;

export interface GlobOptions {
  /** Whether `?` stands for any one character (true, the default) or for itself (allowedImages: only `*` is a wildcard). */
  readonly questionMark?: boolean;
}

const ANY = -1;
const ASCII = 128;

interface Automaton {
  /** Pattern characters other than `*`, as char codes, ANY for a `?` wildcard. */
  readonly tokens: number[];
  /** loops[i]: a `*` stands between token i-1 and token i (state i loops on any character). */
  readonly loops: boolean[];
}

function parseGlob(pattern: string, questionMark: boolean): Automaton {
  const tokens: number[] = [];
  const loops: boolean[] = [false];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === 42 /* * */) loops[tokens.length] = true;
    else {
      tokens.push(c === 63 /* ? */ && questionMark ? ANY : c);
      loops.push(false);
    }
  }
  return { tokens, loops };
}

/** A literal as an automaton: `before` and `after` add a leading and trailing `*`. */
function literal(text: string, before: boolean, after: boolean): Automaton {
  const tokens = Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
  const loops = tokens.map(() => false).concat(false);
  loops[0] = before || loops[0]!;
  loops[tokens.length] = after || loops[tokens.length]!;
  return { tokens, loops };
}

function compile({ tokens, loops }: Automaton): Matcher {
  const m = tokens.length;
  const words = (m >> 5) + 1;
  const finalWord = m >> 5;
  const finalBit = 1 << (m & 31);
  const acceptEarly = loops[m] === true;
  // per subject character: the states a character can advance into (bit i+1 for token i)
  const any = new Int32Array(words);
  const byChar = new Map<number, Int32Array>();
  const loop = new Int32Array(words);
  tokens.forEach((t, i) => {
    const bit = i + 1;
    if (t === ANY) any[bit >> 5]! |= 1 << (bit & 31);
    else {
      let mask = byChar.get(t);
      if (!mask) byChar.set(t, (mask = new Int32Array(words)));
      mask[bit >> 5]! |= 1 << (bit & 31);
    }
  });
  for (const mask of byChar.values()) for (let k = 0; k < words; k++) mask[k]! |= any[k]!;
  loops.forEach((l, i) => {
    if (l) loop[i >> 5]! |= 1 << (i & 31);
  });

  if (words === 1) {
    // patterns of up to 31 characters (nearly all): the state set fits one integer
    const any0 = any[0]!;
    const loop0 = loop[0]!;
    const single = new Map<number, number>();
    for (const [c, mask] of byChar) single.set(c, mask[0]!);
    // names, namespaces and image references are ASCII: their masks are looked up by index (512 bytes), others in the map
    const ascii = new Int32Array(ASCII).fill(any0);
    for (const [c, mask] of single) if (c < ASCII) ascii[c] = mask;
    return (subject, counter) => {
      if (subject.length > MAX_SUBJECT_LENGTH) return false;
      let d = 1;
      for (let i = 0; i < subject.length; i++) {
        if (acceptEarly && (d & finalBit) !== 0) return true;
        const c = subject.charCodeAt(i);
        d = ((d << 1) & (c < ASCII ? ascii[c]! : (single.get(c) ?? any0))) | (d & loop0);
        if (counter) counter.steps++;
        if (d === 0) return false;
      }
      return (d & finalBit) !== 0;
    };
  }

  return (subject, counter) => {
    if (subject.length > MAX_SUBJECT_LENGTH) return false;
    const d = new Int32Array(words);
    d[0] = 1;
    for (let i = 0; i < subject.length; i++) {
      if (acceptEarly && (d[finalWord]! & finalBit) !== 0) return true;
      const advance = byChar.get(subject.charCodeAt(i)) ?? any;
      let carry = 0;
      let alive = 0;
      for (let k = 0; k < words; k++) {
        const w = d[k]!;
        const next = (((w << 1) | carry) & advance[k]!) | (w & loop[k]!);
        carry = w >>> 31;
        d[k] = next;
        alive |= next;
      }
      if (counter) counter.steps += words;
      if (alive === 0) return false;
    }
    return (d[finalWord]! & finalBit) !== 0;
  };
}

/** An anchored glob: `*` any run of characters, `?` one character (unless options say otherwise), anything else itself. */
export function compileGlob(pattern: string, options: GlobOptions = {}): Matcher {
  return compile(parseGlob(pattern, options.questionMark ?? true));
}

/** The matcher of one exemption criterion: how `mode` compares `pattern` with a subject. */
export function compileMatcher(mode: MatchMode, pattern: string): Matcher {
  switch (mode) {
    case 'EQUALS':
      return compile(literal(pattern, false, false));
    case 'PREFIX':
      return compile(literal(pattern, false, true));
    case 'SUFFIX':
      return compile(literal(pattern, true, false));
    case 'CONTAINS':
      return compile(literal(pattern, true, true));
    case 'GLOB':
      return compileGlob(pattern);
  }
}

const CACHE_SIZE = 10_000;
const cache = new Map<string, Matcher>();

/** compileMatcher, with compiled patterns kept (bounded: a flood of new patterns only resets it). */
export function cachedMatcher(mode: MatchMode, pattern: string): Matcher {
  const key = `${mode}\u0000${pattern}`;
  let matcher = cache.get(key);
  if (!matcher) {
    matcher = compileMatcher(mode, pattern);
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(key, matcher);
  }
  return matcher;
}
