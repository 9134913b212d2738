import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Agent credentials: `pca_<tokenId>.<secret>`. The token id is stored in clear to find
 * the cluster; only the SHA-256 of the 256-bit random secret is stored (a slow hash
 * adds nothing for a secret with that much entropy), compared in constant time.
 */
const FORMAT = /^pca_([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

export interface IssuedCredential {
  readonly token: string;
  readonly tokenId: string;
  readonly secretHash: string;
}

export function issueAgentCredential(): IssuedCredential {
  const tokenId = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { token: `pca_${tokenId}.${secret}`, tokenId, secretHash: hashSecret(secret) };
}

export function parseAgentCredential(token: string): { tokenId: string; secret: string } | undefined {
  const m = FORMAT.exec(token);
  return m ? { tokenId: m[1]!, secret: m[2]! } : undefined;
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
