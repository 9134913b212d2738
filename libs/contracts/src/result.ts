import type { z } from 'zod';

export interface ContractError {
  /** Where the problem is, e.g. `events[3].decision`; `(body)` for the whole request. */
  readonly path: string;
  readonly message: string;
}

export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly ContractError[] };

/** Enough to fix a request; a flood of errors from one bad batch would only bloat the response. */
export const MAX_ERRORS = 20;

export function pathOf(path: ReadonlyArray<string | number>): string {
  return (
    path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(body)'
  );
}

export function toErrors(issues: readonly z.ZodIssue[]): ContractError[] {
  return issues.slice(0, MAX_ERRORS).map((i) => ({ path: pathOf(i.path), message: i.message }));
}

export function validateWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): Validated<T> {
  const r = schema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toErrors(r.error.issues) };
}
