/**
 * Kubernetes label selectors as a query parameter (`labelSelector`): equality-based
 * (`a=b`, `a==b`, `a!=b`), existence (`a`, `!a`) and set-based (`a in (x,y)`,
 * `a notin (x,y)`), comma-separated requirements that must all hold.
 */
export type LabelPredicate = (labels: Readonly<Record<string, string>> | undefined) => boolean;

export class SelectorError extends Error {}

export function parseLabelSelector(text: string | null): LabelPredicate {
  if (!text || !text.trim()) return () => true;
  const requirements = splitRequirements(text).map(parseRequirement);
  return (labels) => requirements.every((r) => r(labels ?? {}));
}

/** Commas separate requirements, except inside the parentheses of a set. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

const SET = /^([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const NOT_EQUAL = /^([A-Za-z0-9./_-]+)\s*!=\s*([A-Za-z0-9._-]*)$/;
const EQUAL = /^([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)$/;
const EXISTS = /^(!?)([A-Za-z0-9./_-]+)$/;

function parseRequirement(text: string): (labels: Readonly<Record<string, string>>) => boolean {
  let m = SET.exec(text);
  if (m) {
    const [, key, op, list] = m as unknown as [string, string, string, string];
    const values = new Set(
      list
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean),
    );
    return op === 'in'
      ? (l) => l[key] !== undefined && values.has(l[key])
      : (l) => l[key] === undefined || !values.has(l[key]);
  }
  m = NOT_EQUAL.exec(text);
  if (m) {
    const [, key, value] = m as unknown as [string, string, string];
    return (l) => l[key] !== value;
  }
  m = EQUAL.exec(text);
  if (m) {
    const [, key, value] = m as unknown as [string, string, string];
    return (l) => l[key] === value;
  }
  m = EXISTS.exec(text);
  if (m) {
    const [, not, key] = m as unknown as [string, string, string];
    return not ? (l) => l[key] === undefined : (l) => l[key] !== undefined;
  }
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(text)}`);
}
