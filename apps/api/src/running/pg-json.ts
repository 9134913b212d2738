/**
 * JSON text for a json/jsonb parameter. JSON.stringify escapes a lone surrogate as \udXXX, which
 * PostgreSQL refuses; such strings are made well-formed (U+FFFD), as the UTF-8 encoding of a
 * text value would (the admission ingest does the same).
 */
export function pgJson(value: unknown): string {
  const json = JSON.stringify(value);
  return LONE_SURROGATE_ESCAPE.test(json)
    ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v))
    : json;
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
