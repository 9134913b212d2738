import { Inject, Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, forbidden, requestContext, unauthenticated } from '@portcullis/platform';
import { parseAgentCredential, secretMatches } from '../clusters/agent-credential';

export const AGENT_KEY = 'portcullis:agent';

/** Marks a route as an agent endpoint: a cluster credential, never a user token. */
export const AgentEndpoint = () => SetMetadata(AGENT_KEY, true);

/** The cluster an agent credential belongs to. */
export interface AgentIdentity {
  readonly clusterId: string;
  readonly tenantId: string;
  readonly cloudScopeId: string;
}

type AgentRequest = Request & { agent?: AgentIdentity };

/**
 * Authenticates agent endpoints with the per-cluster credential. The credential only
 * ever identifies its own cluster: handlers take the cluster from here, never from
 * the request, so one cluster's agent cannot read or write another's data.
 */
@Injectable()
export class AgentAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.reflector.getAllAndOverride<boolean>(AGENT_KEY, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<AgentRequest>();
    const header = req.header('authorization') ?? '';
    const [scheme, token] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw unauthenticated('an agent credential is required (Authorization: Bearer pca_...)');
    const parsed = parseAgentCredential(token);
    if (!parsed) throw unauthenticated('the agent credential is malformed');
    const cluster = await this.prisma.cluster.findUnique({
      where: { agentTokenId: parsed.tokenId },
      select: { id: true, tenantId: true, cloudScopeId: true, agentTokenHash: true, tenant: { select: { status: true } } },
    });
    if (!cluster || !secretMatches(parsed.secret, cluster.agentTokenHash)) throw unauthenticated('the agent credential is not valid (revoked or rotated?)');
    if (cluster.tenant.status !== 'ACTIVE') throw forbidden('the tenant of this cluster is disabled');
    // an agent may name its cluster (query or X-Portcullis-Cluster); naming another one is refused
    const claimed = (typeof req.query['clusterId'] === 'string' ? req.query['clusterId'] : undefined) ?? req.header('x-portcullis-cluster');
    if (claimed !== undefined && claimed.toLowerCase() !== cluster.id) throw forbidden(`this credential belongs to another cluster than ${String(claimed).slice(0, 64)}`);
    req.agent = { clusterId: cluster.id, tenantId: cluster.tenantId, cloudScopeId: cluster.cloudScopeId };
    const ctx = requestContext.current();
    if (ctx) {
      ctx.tenantId = cluster.tenantId;
      ctx.principalId = `cluster:${cluster.id}`;
    }
    return true;
  }
}

export const CurrentAgent = createParamDecorator((_: unknown, context: ExecutionContext): AgentIdentity => {
  const agent = context.switchToHttp().getRequest<AgentRequest>().agent;
  if (!agent) throw unauthenticated('an agent credential is required');
  return agent;
});
