import * as fs from 'node:fs';
import * as path from 'node:path';
import { toEnforceable, type EnforceableBundle } from '@portcullis/admission';
import { verifyBundle, type BundleRejection, type PublicKeySet, type SignedEnvelope } from '@portcullis/bundle';

export type AcceptResult =
  | {
      readonly outcome: 'applied';
      readonly revision: number;
      readonly previous: number | null;
      readonly persistError?: string;
    }
  | { readonly outcome: 'unchanged'; readonly revision: number }
  | { readonly outcome: 'rejected'; readonly reason: BundleRejectionReason; readonly message: string };

/** A fixed set: it labels portcullis_agent_bundle_rejections_total, so it never carries text from a bundle. */
export type BundleRejectionReason = BundleRejection | 'UNREADABLE' | 'MALFORMED' | 'UNENFORCEABLE';

/**
 * The bundle the webhook enforces. Only verified bundles get in (trusted key, this
 * cluster, not expired, never an older revision); the swap is one reference
 * assignment, so an admission sees the old bundle or the new one, never a mix. The
 * envelope is persisted (temp file, fsync, rename) so a restarted agent enforces at
 * once, API or not.
 */
export class BundleStore {
  private held: EnforceableBundle | null = null;
  private listeners: Array<(b: EnforceableBundle) => void> = [];

  constructor(
    private readonly persistPath: string,
    private readonly trustedKeys: PublicKeySet,
    private readonly clusterId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The held bundle, or null when none is held or it has expired. */
  current(nowMs: number = Date.now()): EnforceableBundle | null {
    const b = this.held;
    return b !== null && b.expiresAtMs > nowMs ? b : null;
  }

  /** The held bundle even when expired (status and metrics). */
  get revision(): number | null {
    return this.held?.document.revision ?? null;
  }

  get heldExpired(): boolean {
    return this.held !== null && this.held.expiresAtMs <= this.now().getTime();
  }

  onApplied(listener: (b: EnforceableBundle) => void): void {
    this.listeners.push(listener);
  }

  /** Loads the persisted bundle, re-verified as if it had just arrived. */
  loadPersisted(): AcceptResult | { readonly outcome: 'none' } {
    let text: string;
    try {
      text = fs.readFileSync(this.persistPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { outcome: 'none' };
      return {
        outcome: 'rejected',
        reason: 'UNREADABLE',
        message: `cannot read the persisted bundle ${this.persistPath}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      };
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return {
        outcome: 'rejected',
        reason: 'MALFORMED',
        message: `the persisted bundle ${this.persistPath} is not JSON`,
      };
    }
    return this.accept(envelope, { persist: false });
  }

  /** Verifies and, when newer, swaps in and persists a bundle envelope from the API. */
  accept(envelope: unknown, options: { persist: boolean } = { persist: true }): AcceptResult {
    const held = this.held?.document;
    const v = verifyBundle(envelope, {
      trustedKeys: this.trustedKeys,
      clusterId: this.clusterId,
      now: this.now(),
      ...(held ? { heldRevision: held.revision, tenantId: held.tenantId } : {}),
    });
    if (!v.ok) return { outcome: 'rejected', reason: v.reason, message: v.message };
    if (held && v.bundle.revision === held.revision) return { outcome: 'unchanged', revision: held.revision };
    let enforceable: EnforceableBundle;
    try {
      enforceable = toEnforceable(v.bundle);
    } catch (err) {
      return {
        outcome: 'rejected',
        reason: 'UNENFORCEABLE',
        message: `revision ${v.bundle.revision} cannot be enforced by this agent: ${(err as Error).message}`,
      };
    }
    if (options.persist) {
      try {
        this.persist(envelope as SignedEnvelope);
      } catch (err) {
        // enforcing the newer bundle matters more than keeping a copy of it; the caller reports the error
        this.swap(enforceable);
        return {
          outcome: 'applied',
          revision: v.bundle.revision,
          previous: held?.revision ?? null,
          persistError: (err as Error).message,
        };
      }
    }
    this.swap(enforceable);
    return { outcome: 'applied', revision: v.bundle.revision, previous: held?.revision ?? null };
  }

  private swap(b: EnforceableBundle): void {
    this.held = b;
    for (const l of this.listeners) l(b);
  }

  private persist(envelope: SignedEnvelope): void {
    const dir = path.dirname(this.persistPath);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${this.persistPath}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify({ payload: envelope.payload, signature: envelope.signature, kid: envelope.kid }));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.persistPath);
    fsyncDir(dir);
  }
}

/** Makes a rename durable; some filesystems refuse to open a directory, which is fine there. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
