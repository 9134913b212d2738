import { Prisma } from '@portcullis/db';
import type { Principal } from '../tenancy/principal';

/**
 * The SQL condition that limits inventory rows (events and rollups carry the cloud
 * scope of their cluster) to the cloud scopes the caller may read. Row-level security
 * already confines every statement to the tenant.
 */
export function readableScopes(principal: Principal, column = Prisma.raw('cloud_scope_id')): Prisma.Sql {
  const readable = principal.scopesWith('read');
  if (readable === 'all') return Prisma.sql`TRUE`;
  if (readable.size === 0) return Prisma.sql`FALSE`;
  return Prisma.sql`${column} = ANY(${[...readable]}::uuid[])`;
}
