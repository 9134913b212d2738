/**
 * Whether a JSON value serialises to at most `limit` UTF-8 bytes, without serialising it
 * when a cheap bound decides: each UTF-16 unit of a string is 1 to 6 bytes of JSON
 * (ASCII to a `\uXXXX` escape). Only values between the two bounds are stringified.
 * Iterative, and it stops once the lower bound passes the limit, so a deep or huge
 * value costs at most `limit` steps and never overflows the stack.
 */
export function jsonFitsWithin(value: unknown, limit: number): boolean {
  let low = 0;
  let high = 0;
  const add = (lowBytes: number, highBytes: number): void => {
    low += lowBytes;
    high += highBytes;
  };
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') add(v.length + 2, 6 * v.length + 2);
    else if (typeof v === 'number')
      add(Number.isFinite(v) ? String(v).length : 4, Number.isFinite(v) ? String(v).length : 4);
    else if (typeof v === 'boolean') add(v ? 4 : 5, v ? 4 : 5);
    else if (Array.isArray(v)) {
      const structure = 2 + Math.max(0, v.length - 1); // brackets and commas
      add(structure, structure);
      for (let i = v.length - 1; i >= 0; i--) stack.push(isSerialisable(v[i]) ? v[i] : null);
    } else if (typeof v === 'object' && v !== null) {
      let members = 0;
      for (const k of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[k];
        if (!isSerialisable(item)) continue; // JSON.stringify leaves such members out
        members++;
        add(k.length + 3, 6 * k.length + 3); // quotes and colon
        stack.push(item);
      }
      const structure = 2 + Math.max(0, members - 1); // braces and commas
      add(structure, structure);
    } else add(4, 4); // null (and what JSON.stringify writes as null)
    if (low > limit) return false;
  }
  if (high <= limit) return true;
  try {
    return Buffer.byteLength(JSON.stringify(value), 'utf8') <= limit;
  } catch {
    return false; // a BigInt or a cycle: not JSON, so not acceptable at any size
  }
}

const isSerialisable = (v: unknown): boolean => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
