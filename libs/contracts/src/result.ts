import type { z } from 'zod';

export interface ContractError {
  /** Where the problem is, e.g. `events[3].decision`. */
  readonly path: string;
  readonly message: string;
}

export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly ContractError[] };

export function pathOf(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(body)';
}

export function validateWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): Validated<T> {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, errors: r.error.issues.slice(0, 20).map((i) => ({ path: pathOf(i.path), message: i.message })) };
}
