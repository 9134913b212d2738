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

export class SecretBox {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(private readonly keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new SecretBoxError('no encryption key configured');
    for (const k of keys) {
      if (k.key.length !== 32) throw new SecretBoxError(`encryption key "${k.id}" is not 32 bytes`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.id))
        throw new SecretBoxError('an encryption key id must be 1-32 letters, digits, "_" or "-"');
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  seal(plaintext: string, aad: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1:${id}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== 'v1') throw new SecretBoxError('not a sealed value');
    const key = this.byId.get(parts[1]!);
    if (!key) throw new SecretBoxError(`sealed with key "${parts[1]}", which is not configured`);
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

  /** Whether a value is sealed with a key other than the current one (to re-seal on rotation). */
  isStale(sealed: string): boolean {
    return sealed.split(':')[1] !== this.currentKeyId;
  }
}

/** The associated data of one field of one destination. */
export const destinationAad = (tenantId: string, destinationId: string, field: string) =>
  `alert-destination/${tenantId}/${destinationId}/${field}`;
