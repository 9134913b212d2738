import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { parseDecimal } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, badInput, requestContext } from '@portcullis/platform';
import { Public } from '../auth';
import { AgentCredentialCheck, AgentEndpoint, CurrentAgent, type AgentIdentity } from './agent-auth.guard';
import { BundleNotifications, REVOKED } from './bundle-notifications';

const MAX_WAIT_SECONDS = 60;
export const bundleEtag = (revision: number) => `"rev-${revision}"`;

/**
 * GET /agent/v1/bundle: the cluster's latest signed bundle. `If-None-Match` with the
 * held revision's ETag answers 304; `waitSeconds` holds the request until a newer
 * revision is stored (any API replica wakes it through Redis pub/sub) or the wait ends.
 * A poll parked on a credential that is rotated or deleted meanwhile ends at once with 401,
 * and a parked poll re-checks its credential before answering whatever woke it.
 */
@Controller('agent/v1')
export class AgentBundleController {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly notifications: BundleNotifications,
    private readonly credentials: AgentCredentialCheck,
  ) {}

  @Public()
  @AgentEndpoint()
  @Get('bundle')
  async bundle(@CurrentAgent() agent: AgentIdentity, @Query('waitSeconds') waitParam: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    const wait = parseWait(waitParam);
    const held = req.header('if-none-match') ?? undefined;
    void this.touch(agent.clusterId);

    // subscribe before reading, so a revision stored in between is not missed
    const stop = new AbortController();
    let clientGone = false;
    // the response closing before we answered means the agent went away
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      stop.abort();
    });
    const announcement = wait > 0 ? this.notifications.waitForRevision(agent.clusterId, agent.tokenId, wait * 1000, stop.signal) : null;
    let latest = (await this.notifications.latest([agent.clusterId])).get(agent.clusterId) ?? null;
    const current = latest !== null && held !== bundleEtag(latest.revision);
    if (announcement && !current) {
      const ctx = requestContext.current();
      if (ctx) ctx.parked = true; // an expensive operation need not stand aside for a waiting poll
      const woken = await announcement;
      if (ctx) ctx.parked = false;
      if (clientGone) return;
      // the credential may have been rotated or its cluster deleted while parked: answer as a fresh request would
      await this.credentials.authenticate(req.header('authorization'));
      if (woken === REVOKED) latest = (await this.notifications.latest([agent.clusterId])).get(agent.clusterId) ?? null;
      else if (woken?.body !== undefined) latest = woken;
      else if (woken) latest = (await this.notifications.latest([agent.clusterId])).get(agent.clusterId) ?? null;
    } else {
      stop.abort();
    }
    res.setHeader('Cache-Control', 'no-store');
    if (!latest) {
      res.status(404).json({ code: 'NOT_FOUND', message: 'no bundle has been compiled for this cluster yet; retry shortly' });
      return;
    }
    const etag = bundleEtag(latest.revision);
    res.setHeader('ETag', etag);
    if (held === etag) {
      res.status(304).end();
      return;
    }
    // the stored envelope's JSON text as is: no parse and re-serialise per agent
    res.status(200).type('application/json').send(latest.body);
  }

  /** last seen, at most every 10 s per cluster: a long-polling fleet must not become a write load. */
  private readonly lastTouch = new Map<string, number>();
  private async touch(clusterId: string): Promise<void> {
    const now = Date.now();
    if ((this.lastTouch.get(clusterId) ?? 0) > now - 10_000) return;
    this.lastTouch.set(clusterId, now);
    await this.prisma.cluster.update({ where: { id: clusterId }, data: { lastSeenAt: new Date(now) } }).catch(() => undefined);
  }
}

function parseWait(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = parseDecimal(value);
  if (n === undefined || n > MAX_WAIT_SECONDS) throw badInput('waitSeconds', `waitSeconds must be a whole number of seconds, in decimal digits, between 0 and ${MAX_WAIT_SECONDS}`);
  return n;
}
