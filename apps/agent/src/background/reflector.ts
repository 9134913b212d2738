import type { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff, sleep } from '../backoff';
import type { ClusterState } from './cluster-state';
import type { KindEndpoint } from './kinds';

export interface ReflectorHooks {
  /** Something of this kind changed (a watch event, or a list committed). */
  changed(): void;
  /** The kind was listed again after its watch expired: the next report is a FULL sync. */
  relisted(): void;
}

type WatchEnd = 'expired' | 'closed' | 'failed';

const isGone = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  ((err as { code?: unknown }).code === 410 || (err as { statusCode?: unknown }).statusCode === 410);

/**
 * One kind of the cluster, kept in ClusterState as the API server has it: a paginated list
 * (limit/continue; an expired continue token restarts the list), then a watch from the
 * list's resourceVersion, resumed from the last resourceVersion seen (events and bookmarks)
 * whenever it ends. When the API server says that version is too old (410 Expired) the kind
 * is listed again and the list replaces what was held.
 */
export class Reflector {
  private resourceVersion = '';
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private markSynced!: () => void;
  /** Resolves once the first complete list is held. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));
  relists = 0;
  lastError: string | null = null;

  constructor(
    private readonly endpoint: KindEndpoint,
    private readonly watch: Watch,
    private readonly state: ClusterState,
    private readonly hooks: ReflectorHooks,
    private readonly options: { readonly pageSize: number; readonly backoff: Backoff; readonly log: Logger },
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.abort?.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    let listed = false;
    let needList = true;
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.list();
        } catch (err) {
          if (signal.aborted) break;
          this.fail('list', err);
          await sleep(this.options.backoff.next(), signal);
          continue;
        }
        needList = false;
        this.options.backoff.reset();
        if (listed) {
          this.relists++;
          this.hooks.relisted();
        }
        listed = true;
        this.markSynced();
        this.hooks.changed();
      }
      const end = await this.watchOnce();
      if (signal.aborted) break;
      if (end === 'expired') {
        this.options.log.info(
          { kind: this.endpoint.kind, resourceVersion: this.resourceVersion },
          'watch expired (410): listing again',
        );
        needList = true;
      } else if (end === 'failed') await sleep(this.options.backoff.next(), signal);
    }
  }

  /** The whole kind, page by page, into a stage that replaces the held objects when complete. */
  private async list(): Promise<void> {
    const { kind, apiVersion } = this.endpoint;
    for (;;) {
      const stage = this.state.stage(kind, apiVersion);
      let token: string | undefined;
      let resourceVersion = '';
      let expired = false;
      do {
        let page;
        try {
          page = await this.endpoint.list({
            limit: this.options.pageSize,
            ...(token !== undefined ? { _continue: token } : {}),
          });
        } catch (err) {
          // the continue token outlived the API server's compaction: start the list again
          if (token !== undefined && isGone(err)) {
            expired = true;
            break;
          }
          throw err;
        }
        for (const item of page.items) stage.add(item);
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?._continue || undefined;
        if (this.stop.signal.aborted) return;
      } while (token !== undefined);
      if (expired) {
        this.options.log.info({ kind }, 'list continue token expired (410): listing from the start');
        continue;
      }
      stage.commit();
      this.resourceVersion = resourceVersion;
      this.lastError = null;
      return;
    }
  }

  /** One watch from the held resourceVersion, until it ends. */
  private watchOnce(): Promise<WatchEnd> {
    const { kind, apiVersion, path } = this.endpoint;
    return new Promise<WatchEnd>((resolve) => {
      let expired = false;
      let settled = false;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        this.abort = null;
        resolve(end);
      };
      this.watch
        .watch(
          path,
          {
            allowWatchBookmarks: true,
            resourceVersion: this.resourceVersion,
            // the API server ends a watch after this; it is resumed from the last version seen
            timeoutSeconds: 240 + Math.floor(Math.random() * 120),
          },
          (type: string, object: unknown) => {
            if (expired) return;
            const rv = resourceVersionOf(object);
            switch (type) {
              case 'ADDED':
              case 'MODIFIED':
                this.state.upsert(kind, apiVersion, object);
                this.hooks.changed();
                break;
              case 'DELETED':
                this.state.remove(kind, object);
                this.hooks.changed();
                break;
              case 'BOOKMARK':
                break;
              case 'ERROR':
                if (isGone(object)) {
                  expired = true;
                  this.abort?.abort();
                  finish('expired');
                } else this.fail('watch', new Error(messageOf(object)));
                return;
              default:
                return;
            }
            if (rv !== undefined) this.resourceVersion = rv;
          },
          (err: unknown) => {
            if (expired || isGone(err)) finish('expired');
            else if (err && !this.stop.signal.aborted && !isTimeout(err)) {
              this.fail('watch', err);
              finish('failed');
            } else {
              this.options.backoff.reset();
              finish('closed');
            }
          },
        )
        .then(
          (controller) => {
            if (settled) controller.abort();
            else this.abort = controller;
          },
          (err: unknown) => {
            this.fail('watch', err);
            finish('failed');
          },
        );
    });
  }

  private fail(what: 'list' | 'watch', err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = `${what} ${this.endpoint.kind}: ${message}`.slice(0, 500);
    this.options.log.warn({ kind: this.endpoint.kind, problem: this.lastError }, `${what} failed; retrying`);
  }
}

function resourceVersionOf(object: unknown): string | undefined {
  const meta =
    typeof object === 'object' && object !== null
      ? (object as { metadata?: { resourceVersion?: unknown } }).metadata
      : undefined;
  return typeof meta?.resourceVersion === 'string' && meta.resourceVersion !== '' ? meta.resourceVersion : undefined;
}

function messageOf(status: unknown): string {
  const s = status as { code?: unknown; message?: unknown } | null;
  return `watch error ${String(s?.code ?? '')}: ${typeof s?.message === 'string' ? s.message.slice(0, 200) : 'no message'}`;
}

/** client-node ends a watch that sent nothing for 30 s with a TimeoutError: resumed like a normal end. */
function isTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';
}
