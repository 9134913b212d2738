import { sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { SigningKey, TrustedKey } from './keys';

/** A signed document on the wire: the payload bytes are exactly what was signed. */
export interface SignedEnvelope {
  /** base64url of the canonical JSON of the document */
  readonly payload: string;
  /** base64url Ed25519 signature over the payload bytes */
  readonly signature: string;
  readonly kid: string;
}

export function signEnvelope(document: unknown, key: SigningKey): SignedEnvelope {
  const bytes = Buffer.from(canonicalJson(document), 'utf8');
  return { payload: bytes.toString('base64url'), signature: sign(null, bytes, key.privateKey).toString('base64url'), kid: key.kid };
}

export type EnvelopeFailure = 'MALFORMED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE';

export type EnvelopeResult = { readonly ok: true; readonly document: unknown } | { readonly ok: false; readonly reason: EnvelopeFailure; readonly message: string };

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Checks the envelope's shape, finds its key among the trusted ones, verifies, then decodes. */
export function verifyEnvelope(envelope: unknown, trusted: readonly TrustedKey[]): EnvelopeResult {
  const e = envelope as Partial<SignedEnvelope> | null;
  if (typeof e !== 'object' || e === null || typeof e.payload !== 'string' || typeof e.signature !== 'string' || typeof e.kid !== 'string') {
    return { ok: false, reason: 'MALFORMED', message: 'the envelope is not { payload, signature, kid }' };
  }
  if (!B64URL.test(e.payload) || !B64URL.test(e.signature)) return { ok: false, reason: 'MALFORMED', message: 'payload or signature is not base64url' };
  const key = trusted.find((k) => k.kid === e.kid);
  if (!key) return { ok: false, reason: 'UNKNOWN_KEY', message: `key id ${e.kid.slice(0, 64)} is not among the trusted keys` };
  const bytes = Buffer.from(e.payload, 'base64url');
  if (!verify(null, bytes, key.publicKey, Buffer.from(e.signature, 'base64url'))) {
    return { ok: false, reason: 'BAD_SIGNATURE', message: `the signature does not verify with key ${e.kid}` };
  }
  try {
    return { ok: true, document: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false, reason: 'MALFORMED', message: 'the signed payload is not JSON' };
  }
}
