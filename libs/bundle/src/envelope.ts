import { sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { PublicKeySet, SigningKey } from './signing-key';

/**
 * A signed document on the wire (bundles and scan artifacts alike). The payload bytes
 * are exactly what was signed, so a verifier never re-serialises before checking.
 */
export interface SignedEnvelope {
  /** base64url (no padding) of the canonical JSON of the document */
  readonly payload: string;
  /** base64url (no padding) Ed25519 signature over the payload bytes */
  readonly signature: string;
  /** which published key signed it */
  readonly kid: string;
}

/** Signs the canonical JSON of `document`; throws CanonicalJsonError (naming the path) for a non-JSON value. */
export function signEnvelope(document: unknown, key: SigningKey): SignedEnvelope {
  const bytes = Buffer.from(canonicalJson(document), 'utf8');
  return {
    payload: bytes.toString('base64url'),
    signature: sign(null, bytes, key.privateKey).toString('base64url'),
    kid: key.kid,
  };
}

export type EnvelopeFailure = 'MALFORMED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE';

export type EnvelopeResult =
  | { readonly ok: true; readonly document: unknown; readonly kid: string }
  | { readonly ok: false; readonly reason: EnvelopeFailure; readonly message: string };

/** Bounds what a verifier decodes: far above any real bundle, far below a memory problem. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

const ED25519_SIGNATURE_BYTES = 64;

/**
 * Checks the envelope's shape, finds its key among the trusted ones, verifies the
 * signature, and only then parses the payload: unsigned bytes are never interpreted.
 */
export function verifyEnvelope(envelope: unknown, trusted: PublicKeySet): EnvelopeResult {
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
    return malformed('the envelope is not an object { payload, signature, kid }');
  }
  const e = envelope as Record<string, unknown>;
  for (const field of ['payload', 'signature', 'kid'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '')
      return malformed(`the envelope's ${field} is missing or not a non-empty string`);
  }
  const { payload, signature, kid } = e as unknown as SignedEnvelope;
  if (payload.length > Math.ceil((MAX_PAYLOAD_BYTES * 4) / 3))
    return malformed(`the payload is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  const bytes = decodeBase64url(payload);
  if (!bytes) return malformed('the payload is not base64url (unpadded)');
  const sig = decodeBase64url(signature);
  if (!sig || sig.length !== ED25519_SIGNATURE_BYTES)
    return malformed(`the signature is not ${ED25519_SIGNATURE_BYTES} bytes of base64url`);
  const key = trusted.find((k) => k.kid === kid);
  // the kid is attacker-controlled text: bounded and JSON-quoted before it reaches a message
  if (!key)
    return {
      ok: false,
      reason: 'UNKNOWN_KEY',
      message: `key id ${JSON.stringify(kid.slice(0, 128))} is not among the trusted keys`,
    };
  if (!verify(null, bytes, key.publicKey, sig)) {
    return { ok: false, reason: 'BAD_SIGNATURE', message: `the signature does not verify with trusted key ${kid}` };
  }
  try {
    return { ok: true, document: JSON.parse(bytes.toString('utf8')) as unknown, kid };
  } catch {
    return malformed('the signed payload is not JSON');
  }
}

function malformed(message: string): EnvelopeResult {
  return { ok: false, reason: 'MALFORMED', message };
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Strict decoding: Buffer.from silently skips bad characters, so the result must re-encode to the input. */
function decodeBase64url(text: string): Buffer | null {
  if (!B64URL.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}
