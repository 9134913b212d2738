import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets at rest (destination URLs, signing secrets, tokens). A sealed value
 * is `v1:<key id>:<base64url iv>:<base64url ciphertext+tag>`; the key id picks the key that
 * opens it, so keys rotate: the first key seals, every listed key opens. The associated data
 * binds a value to its row and field (tenant, destination, column), so a ciphertext copied to
 * another row or column does not open.
 */
export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
}

export class SecretBoxError extends Error {}

const NO_KEY = 'no encryption key is configured (SECRETS_ENCRYPTION_KEYS)';

export class SecretBox {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(private readonly keys: readonly SecretKey[]) {
    for (const k of keys) {
      if (k.key.length !== 32) throw new SecretBoxError(`encryption key "${k.id}" is not 32 bytes`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.id))
        throw new SecretBoxError('an encryption key id must be 1-32 letters, digits, "_" or "-"');
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Whether a key is configured (production without SECRETS_ENCRYPTION_KEYS has none). */
  get configured(): boolean {
    return this.keys.length > 0;
  }

  get currentKeyId(): string | undefined {
    return this.keys[0]?.id;
  }

  seal(plaintext: string, aad: string): string {
    if (!this.keys[0]) throw new SecretBoxError(NO_KEY);
    const { id, key } = this.keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1:${id}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== 'v1') throw new SecretBoxError('not a sealed value');
    if (!this.keys[0]) throw new SecretBoxError(NO_KEY);
    const key = this.byId.get(parts[1]!);
    if (!key) throw new SecretBoxError(`sealed with key "${parts[1]}", which is not in SECRETS_ENCRYPTION_KEYS`);
    const iv = Buffer.from(parts[2]!, 'base64url');
    const body = Buffer.from(parts[3]!, 'base64url');
    if (iv.length !== 12 || body.length < 16) throw new SecretBoxError('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('a sealed value failed authentication (wrong key, or moved to another row)');
    }
  }
}

/** The associated data of one field of one destination. */
export const destinationAad = (tenantId: string, destinationId: string, field: string) =>
  `alert-destination/${tenantId}/${destinationId}/${field}`;
