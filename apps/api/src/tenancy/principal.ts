import type { Role } from '@portcullis/db';

/**
 * What a permission lets a caller do. `signed-in` needs only a valid token of an
 * onboarded tenant; the others need a role at the scope they touch.
 */
export type Permission = 'signed-in' | 'read' | 'manage' | 'administer';

const ROLES_GRANTING: Record<Exclude<Permission, 'signed-in'>, readonly Role[]> = {
  read: ['OWNER', 'SECURITY_ADMIN', 'SECURITY_READER'],
  manage: ['OWNER', 'SECURITY_ADMIN'],
  administer: ['OWNER'],
};

export interface Grant {
  readonly role: Role;
  /** null: the role applies at tenant level, to every cloud scope. */
  readonly cloudScopeId: string | null;
}

/** The authenticated caller inside its tenant, with the roles it holds there. */
export class Principal {
  constructor(
    readonly tenantId: string,
    readonly objectId: string,
    readonly name: string | null,
    readonly grants: readonly Grant[],
  ) {}

  private holds(permission: Permission, matches: (g: Grant) => boolean): boolean {
    if (permission === 'signed-in') return true;
    const roles = ROLES_GRANTING[permission];
    return this.grants.some((g) => roles.includes(g.role) && matches(g));
  }

  /** Permission at tenant level (every cloud scope, and tenant-wide objects). */
  canTenantWide(permission: Permission): boolean {
    return this.holds(permission, (g) => g.cloudScopeId === null);
  }

  /** Permission on one cloud scope (directly, or through a tenant-level role). */
  canOnScope(permission: Permission, cloudScopeId: string): boolean {
    return this.holds(permission, (g) => g.cloudScopeId === null || g.cloudScopeId === cloudScopeId);
  }

  /** Permission on every one of the scopes; an empty list means tenant-wide. */
  canOnScopes(permission: Permission, cloudScopeIds: readonly string[]): boolean {
    return cloudScopeIds.length === 0
      ? this.canTenantWide(permission)
      : cloudScopeIds.every((id) => this.canOnScope(permission, id));
  }

  /** Permission somewhere in the tenant: the coarse check resolvers declare. */
  canAnywhere(permission: Permission): boolean {
    return this.holds(permission, () => true);
  }

  /** Cloud scopes the caller may see with `permission`: 'all' for tenant-level roles. */
  scopesWith(permission: Exclude<Permission, 'signed-in'>): 'all' | ReadonlySet<string> {
    if (this.canTenantWide(permission)) return 'all';
    const roles = ROLES_GRANTING[permission];
    return new Set(
      this.grants.filter((g) => roles.includes(g.role) && g.cloudScopeId !== null).map((g) => g.cloudScopeId!),
    );
  }
}
