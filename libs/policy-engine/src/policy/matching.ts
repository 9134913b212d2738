import type { MatchMode, NamespaceScope } from './model';

const cache = new Map<string, RegExp>();

/** Glob with `*` (any run) and `?` (one character), anchored. */
export function globRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    if (cache.size < 10_000) cache.set(pattern, re);
  }
  return re;
}

export function matches(mode: MatchMode, pattern: string, value: string): boolean {
  switch (mode) {
    case 'EQUALS':
      return value === pattern;
    case 'PREFIX':
      return value.startsWith(pattern);
    case 'SUFFIX':
      return value.endsWith(pattern);
    case 'CONTAINS':
      return value.includes(pattern);
    case 'GLOB':
      return globRegExp(pattern).test(value);
  }
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
  const exclude = scope.exclude.find((p) => globRegExp(p).test(ns)) ?? null;
  if (scope.include.length === 0) return { applies: exclude === null, include: null, exclude };
  const include = scope.include.find((p) => globRegExp(p).test(ns));
  return include === undefined ? { applies: false, include: null, exclude } : { applies: exclude === null, include, exclude };
}
