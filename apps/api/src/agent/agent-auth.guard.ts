import { Injectable, SetMetadata, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { forbidden, requestContext, unauthenticated } from '@portcullis/platform';
import { parseAgentCredential, secretMatches } from '@portcullis/credentials';
import { bearerCredentialOf } from '../auth';
import { SqlPool } from '../platform/sql-pool';

export const AGENT_KEY = 'portcullis:agent';

/** Marks a route as an agent endpoint: a cluster credential, never a user token. */
export const AgentEndpoint = () => SetMetadata(AGENT_KEY, true);

/** The cluster an agent credential belongs to, and the credential's token id (not secret). */
export interface AgentIdentity {
  readonly clusterId: string;
  readonly tenantId: string;
  readonly cloudScopeId: string;
  readonly tokenId: string;
}

type AgentRequest = Request & { agent?: AgentIdentity };

/** The cluster an agent token id names, with what the check needs (the owner's connection: no tenant is known yet). */
const CREDENTIAL_SQL = `SELECT c.id, c.tenant_id, c.cloud_scope_id, c.agent_token_hash, t.status::text AS tenant_status
  FROM clusters c JOIN tenants t ON t.id = c.tenant_id WHERE c.agent_token_id = $1`;

interface CredentialRow extends Record<string, unknown> {
  readonly id: string;
  readonly tenant_id: string;
  readonly cloud_scope_id: string;
  readonly agent_token_hash: string;
  readonly tenant_status: string;
}

/**
 * The one check of an agent credential: the guard runs it on every agent request, and a
 * long poll runs it again before it answers after waiting, so a credential rotated or
 * deleted while the poll was parked gets what a fresh request would get.
 */
@Injectable()
export class AgentCredentialCheck {
  constructor(private readonly sql: SqlPool) {}

  /** The identity the `Authorization` header's credential proves, or UNAUTHENTICATED / FORBIDDEN. */
  async authenticate(authorization: string | undefined): Promise<AgentIdentity> {
    const token = bearerCredentialOf(authorization);
    if (!token) throw unauthenticated('an agent credential is required (Authorization: Bearer pca_...)');
    const parsed = parseAgentCredential(token);
    if (!parsed) throw unauthenticated('the agent credential is malformed');
    // every agent request asks this (an ingesting cluster several times a second): one prepared
    // statement on the plain pool, never cached, so a rotated or revoked credential fails at once
    const [cluster] = await this.sql.asOwner<CredentialRow>(
      CREDENTIAL_SQL,
      [parsed.tokenId],
      'portcullis_agent_credential_v1',
    );
    if (!cluster || !secretMatches(parsed.secret, cluster.agent_token_hash))
      throw unauthenticated('the agent credential is not valid (revoked or rotated?)');
    if (cluster.tenant_status !== 'ACTIVE') throw forbidden('the tenant of this cluster is disabled');
    return {
      clusterId: cluster.id,
      tenantId: cluster.tenant_id,
      cloudScopeId: cluster.cloud_scope_id,
      tokenId: parsed.tokenId,
    };
  }
}

/**
 * Authenticates agent endpoints with the per-cluster credential. The credential only
 * ever identifies its own cluster: handlers take the cluster from here, never from
 * the request, so one cluster's agent cannot read or write another's data.
 */
@Injectable()
export class AgentAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly credentials: AgentCredentialCheck,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.reflector.getAllAndOverride<boolean>(AGENT_KEY, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<AgentRequest>();
    const agent = await this.credentials.authenticate(req.header('authorization'));
    // an agent may name its cluster (query or X-Portcullis-Cluster); naming another one is refused
    const claimed =
      (typeof req.query['clusterId'] === 'string' ? req.query['clusterId'] : undefined) ??
      req.header('x-portcullis-cluster');
    if (claimed !== undefined && claimed.toLowerCase() !== agent.clusterId)
      throw forbidden(`this credential belongs to another cluster than ${String(claimed).slice(0, 64)}`);
    req.agent = agent;
    requestContext.identify(agent.tenantId, `cluster:${agent.clusterId}`);
    return true;
  }
}

export const CurrentAgent = createParamDecorator((_: unknown, context: ExecutionContext): AgentIdentity => {
  const agent = context.switchToHttp().getRequest<AgentRequest>().agent;
  if (!agent) throw unauthenticated('an agent credential is required');
  return agent;
});
