import type { MatchCounter } from '../types';
import type { MatchMode, NamespaceScope } from './model';
import { cachedMatcher } from './pattern-matcher';

/** Whether `value` matches `pattern` the way `mode` says (never a regular expression: see pattern-matcher). */
export function matches(mode: MatchMode, pattern: string, value: string, counter?: MatchCounter): boolean {
  return cachedMatcher(mode, pattern)(value, counter);
}

export interface NamespaceDecision {
  readonly applies: boolean;
  /** The include pattern that matched (null when include is empty = every namespace). */
  readonly include: string | null;
  /** The exclude pattern that removed the namespace, if one did. */
  readonly exclude: string | null;
}

/** Whether a policy's namespace scope covers a namespace, and which pattern decided it. */
export function namespaceDecision(scope: NamespaceScope, namespace: string | undefined): NamespaceDecision {
  const ns = namespace ?? '';
  const exclude = scope.exclude.find((p) => matches('GLOB', p, ns)) ?? null;
  if (scope.include.length === 0) return { applies: exclude === null, include: null, exclude };
  const include = scope.include.find((p) => matches('GLOB', p, ns));
  return include === undefined
    ? { applies: false, include: null, exclude }
    : { applies: exclude === null, include, exclude };
}
