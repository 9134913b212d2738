import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { parseDecimal } from '@portcullis/contracts';
import { badInput } from '@portcullis/platform';
import { Public } from '../auth';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from './agent-auth.guard';
import { BundlePoll } from './bundle-poll';

const MAX_WAIT_SECONDS = 60;

/**
 * GET /agent/v1/bundle: the cluster's latest signed bundle. `If-None-Match` with the
 * held revision's ETag answers 304; `waitSeconds` holds the request until a newer
 * revision is stored or the wait ends (BundlePoll decides; this translates HTTP).
 */
@Controller('agent/v1')
export class AgentBundleController {
  constructor(private readonly poll: BundlePoll) {}

  @Public()
  @AgentEndpoint()
  @Get('bundle')
  async bundle(
    @CurrentAgent() agent: AgentIdentity,
    @Query('waitSeconds') waitParam: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const waitSeconds = parseWait(waitParam);
    const gone = new AbortController();
    // the response closing before we answered means the agent went away
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const answer = await this.poll.answer({
      agent,
      authorization: req.header('authorization'),
      held: req.header('if-none-match') ?? undefined,
      waitSeconds,
      clientGone: gone.signal,
    });
    if (answer.kind === 'gone') return;
    res.setHeader('Cache-Control', 'no-store');
    switch (answer.kind) {
      case 'none':
        res
          .status(404)
          .json({ code: 'NOT_FOUND', message: 'no bundle has been compiled for this cluster yet; retry shortly' });
        return;
      case 'unchanged':
        res.setHeader('ETag', answer.etag);
        res.status(304).end();
        return;
      case 'bundle':
        res.setHeader('ETag', answer.etag);
        // the stored envelope's JSON text as is: no parse and re-serialise per agent
        res.status(200).type('application/json').send(answer.body);
        return;
    }
  }
}

function parseWait(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = parseDecimal(value);
  if (n === undefined || n > MAX_WAIT_SECONDS)
    throw badInput(
      'waitSeconds',
      `waitSeconds must be a whole number of seconds, in decimal digits, between 0 and ${MAX_WAIT_SECONDS}`,
    );
  return n;
}
