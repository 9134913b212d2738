import { randomBytes } from 'node:crypto';
import { hashSecret, secretMatches } from '@portcullis/credentials';

/**
 * CI scan-upload tokens: `pcs_<tokenId>.<secret>`, hashed at rest like agent
 * credentials. The prefix differs from an agent's `pca_`, so neither parses as the
 * other: an upload token opens no agent endpoint, an agent credential uploads nothing.
 */
const FORMAT = /^pcs_([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

export interface IssuedUploadToken {
  readonly token: string;
  readonly tokenId: string;
  readonly secretHash: string;
}

export function issueUploadToken(): IssuedUploadToken {
  const tokenId = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { token: `pcs_${tokenId}.${secret}`, tokenId, secretHash: hashSecret(secret) };
}

export function parseUploadToken(token: string): { tokenId: string; secret: string } | undefined {
  const m = FORMAT.exec(token);
  return m ? { tokenId: m[1]!, secret: m[2]! } : undefined;
}

export { secretMatches };
