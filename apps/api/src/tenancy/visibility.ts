import { Prisma } from '@portcullis/db';
import { notFound, type DomainError } from '@portcullis/platform';
import type { Principal } from './principal';

/** Kinds of object a lookup can miss; the NOT_FOUND message names the kind and the id asked for, nothing else. */
export type HiddenKind = 'cloud scope' | 'cluster' | 'policy' | 'role assignment';

/**
 * What a caller can read, in cloud scopes: the one place lists, filters, lookups and
 * errors get their scope condition from. Row-level security confines every statement
 * to the tenant; this confines it to the readable scopes within it.
 *
 * A filter only ever narrows: a requested scope the caller cannot read yields nothing
 * (never the scope's rows, never an error that tells it exists). Something the caller
 * cannot read answers exactly like something that does not exist (`hidden`).
 */
export class Visibility {
  private constructor(
    /** 'all' for tenant-level readers; else the scopes where the caller holds a reading role. */
    private readonly readable: 'all' | ReadonlySet<string>,
  ) {}

  static of(principal: Principal): Visibility {
    return new Visibility(principal.scopesWith('read'));
  }

  /** Sees every scope: only for the audit log's snapshots (its readers are tenant-level); a source scan keeps it there. */
  static readonly unrestricted = new Visibility('all');

  /** Whether a scope is readable; null stands for a tenant-level row (a tenant-level role), readable by tenant-level readers only. */
  canRead(cloudScopeId: string | null): boolean {
    if (this.readable === 'all') return true;
    return cloudScopeId !== null && this.readable.has(cloudScopeId);
  }

  /**
   * The scope ids a query may return rows of: the readable ones, intersected with the one
   * a filter asks for. 'all' only for a tenant-level reader without a scope filter.
   */
  scopeIds(requested?: string | null): 'all' | readonly string[] {
    if (requested) return this.canRead(requested) ? [requested] : [];
    return this.readable === 'all' ? 'all' : [...this.readable];
  }

  /** Where-clause on clusters: those of readable scopes (and of the requested scope, if any). */
  clusters(requested?: string | null): Prisma.ClusterWhereInput {
    const ids = this.scopeIds(requested);
    return ids === 'all' ? {} : { cloudScopeId: { in: [...ids] } };
  }

  /** Where-clause on cloud scopes. */
  cloudScopes(requested?: string | null): Prisma.CloudScopeWhereInput {
    const ids = this.scopeIds(requested);
    return ids === 'all' ? {} : { id: { in: [...ids] } };
  }

  /** Where-clause on role assignments: scope-level readers see their scopes' assignments, never tenant-level ones. */
  roleAssignments(requested?: string | null): Prisma.RoleAssignmentWhereInput {
    const ids = this.scopeIds(requested);
    return ids === 'all' ? {} : { cloudScopeId: { in: [...ids] } };
  }

  /**
   * Where-clause on policies: tenant-wide ones and those touching a readable scope. With a
   * requested scope: the policies naming it (or covering a cluster of it) and tenant-wide ones,
   * if the caller reads that scope; nothing if it does not.
   */
  policies(requested?: string | null): Prisma.PolicyWhereInput {
    if (requested && !this.canRead(requested)) return { id: { in: [] } };
    const ids = requested ? [requested] : this.readable === 'all' ? undefined : [...this.readable];
    if (!ids) return {};
    return {
      // tenant-wide policies match a requested scope only if the tenant has it (an id of another tenant's scope yields nothing)
      ...(requested ? { tenant: { cloudScopes: { some: { id: requested } } } } : {}),
      OR: [
        { cloudScopes: { none: {} }, clusters: { none: {} } },
        { cloudScopes: { some: { cloudScopeId: { in: ids } } } },
        { clusters: { some: { cluster: { cloudScopeId: { in: ids } } } } },
      ],
    };
  }

  /** The same condition for raw SQL over a table carrying the scope in `column` (admission events, rollups, snapshot-days). */
  sql(column: Prisma.Sql = Prisma.raw('cloud_scope_id'), requested?: string | null): Prisma.Sql {
    const ids = this.scopeIds(requested);
    if (ids === 'all') return Prisma.sql`TRUE`;
    if (ids.length === 0) return Prisma.sql`FALSE`;
    return Prisma.sql`${column} = ANY(${[...ids]}::uuid[])`;
  }

  /** Only the items of readable scopes, and how many were left out (to count, never to name). */
  partition<T>(items: readonly T[], scopeOf: (item: T) => string): { shown: T[]; hidden: number } {
    const shown = items.filter((i) => this.canRead(scopeOf(i)));
    return { shown, hidden: items.length - shown.length };
  }
}

/**
 * The answer for something the caller cannot read, identical to the one for an id that
 * does not exist: same code, same message shape, only what the caller itself sent.
 */
export function hidden(kind: HiddenKind, id: string): DomainError {
  return notFound(`${kind} ${id} does not exist`);
}
