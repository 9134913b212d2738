/**
 * Substring filters (`name contains ...`). Prisma writes `contains` as LIKE / ILIKE with
 * the value between two `%` and does not escape it: a caller's `%` or `_` would be a
 * wildcard (`_` matches any name, `%%%%...` costs a backtracking scan). Every substring
 * filter is built here, with the value matched literally; lint refuses `contains:` elsewhere.
 */
export function likeLiteral(text: string): string {
  // PostgreSQL's default LIKE escape character is the backslash
  return text.replace(/[\\%_]/g, '\\$&');
}

/** Prisma filter: the column contains `text`, literally, case as given. */
export function containing(text: string): { contains: string } {
  return { contains: likeLiteral(text) };
}

/** Prisma filter: the column contains `text`, literally, in any case. */
export function containingAnyCase(text: string): { contains: string; mode: 'insensitive' } {
  return { contains: likeLiteral(text), mode: 'insensitive' };
}
