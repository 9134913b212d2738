import { Injectable } from '@nestjs/common';
import { requestContext } from '@portcullis/platform';
import { AgentCredentialCheck, type AgentIdentity } from './agent-auth.guard';
import { AgentClusterState } from './agent-cluster-state';
import { BundleNotifications, REVOKED, type StoredBundle } from './bundle-notifications';

export const bundleEtag = (revision: number) => `"rev-${revision}"`;

export interface BundlePollRequest {
  readonly agent: AgentIdentity;
  /** The request's Authorization header: checked again after a wait. */
  readonly authorization: string | undefined;
  /** If-None-Match: the ETag of the revision the agent holds. */
  readonly held: string | undefined;
  /** 0 answers at once; otherwise how long to wait for a newer revision. */
  readonly waitSeconds: number;
  /** Aborts when the agent went away before it was answered. */
  readonly clientGone: AbortSignal;
}

export type BundlePollAnswer =
  | { readonly kind: 'bundle'; readonly etag: string; readonly body: string }
  | { readonly kind: 'unchanged'; readonly etag: string }
  | { readonly kind: 'none' }
  /** The agent left while the poll waited: nothing to answer. */
  | { readonly kind: 'gone' };

/**
 * GET /agent/v1/bundle's decision: the cluster's latest signed bundle, or "unchanged" for
 * the revision the agent holds. A poll that waits is woken by a newer revision stored on
 * any replica (BundleNotifications); one parked on a credential that is rotated or deleted
 * meanwhile ends at once, and a parked poll re-checks its credential before answering
 * whatever woke it, so it gets what a fresh request would get.
 */
@Injectable()
export class BundlePoll {
  constructor(
    private readonly notifications: BundleNotifications,
    private readonly credentials: AgentCredentialCheck,
    private readonly clusters: AgentClusterState,
  ) {}

  async answer(poll: BundlePollRequest): Promise<BundlePollAnswer> {
    const { agent, held } = poll;
    void this.clusters.markSeen(agent.clusterId);

    // subscribe before reading, so a revision stored in between is not missed
    const stop = new AbortController();
    const onGone = () => stop.abort();
    poll.clientGone.addEventListener('abort', onGone, { once: true });
    try {
      const deadline = Date.now() + poll.waitSeconds * 1000;
      const isNew = (bundle: StoredBundle | null) => bundle !== null && held !== bundleEtag(bundle.revision);
      let announcement =
        poll.waitSeconds > 0
          ? this.notifications.waitForRevision(agent.clusterId, agent.tokenId, poll.waitSeconds * 1000, stop.signal)
          : null;
      let latest = await this.latest(agent.clusterId);
      while (announcement && !isNew(latest)) {
        const ctx = requestContext.current();
        if (ctx) ctx.parked = true; // an expensive operation need not stand aside for a waiting poll
        const woken = await announcement;
        if (ctx) ctx.parked = false;
        if (poll.clientGone.aborted) return { kind: 'gone' };
        // the credential may have been rotated or its cluster deleted while parked: answer as a fresh request would
        await this.credentials.authenticate(poll.authorization);
        if (woken === null) break; // the wait ended: the held revision is still the newest
        latest = woken !== REVOKED && woken.body !== undefined ? woken : await this.latest(agent.clusterId);
        if (woken === REVOKED || isNew(latest)) break;
        // woken for the revision the agent already holds (a late or repeated announcement): keep
        // waiting for the rest of its time, subscribed again before reading, as at the start
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        announcement = this.notifications.waitForRevision(agent.clusterId, agent.tokenId, remaining, stop.signal);
        latest = await this.latest(agent.clusterId);
      }
      if (!latest) return { kind: 'none' };
      const etag = bundleEtag(latest.revision);
      return held === etag ? { kind: 'unchanged', etag } : { kind: 'bundle', etag, body: latest.body };
    } finally {
      // releases a wait nobody needs any more (answered at once, or a read failed)
      stop.abort();
      poll.clientGone.removeEventListener('abort', onGone);
    }
  }

  private async latest(clusterId: string): Promise<StoredBundle | null> {
    return (await this.notifications.latest([clusterId])).get(clusterId) ?? null;
  }
}
