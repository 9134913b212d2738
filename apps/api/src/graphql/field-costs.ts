/**
 * What each root field costs in the complexity estimate, in one table: roughly the rows it
 * reads or writes and the transactions it opens, on top of its selection. A list field's
 * selection counts once per item it may return (`first`, or the page size it defaults to).
 * A test fails when a root field of the schema has no entry here, so a new resolver cannot
 * come in at the default cost of 1.
 *
 * `expensive` root fields (whole-tenant exports, simulations, reports) are also counted per
 * operation, aliases included, against GRAPHQL_MAX_EXPENSIVE_FIELDS.
 */
type Args = Record<string, unknown>;

export interface FieldCost {
  /** Cost of the field itself; the selection below it is added (multiplied for lists). */
  readonly base: number | ((args: Args) => number);
  /** Items a list field returns when `first` is omitted; its selection is multiplied by it. */
  readonly page?: number;
  /**
   * Share of one item's selection that is database work (default 1): below 1 where an item is
   * one row of one query whose fields are read together (a rollout row), so a page of plain
   * rows is not priced like a page of nested lookups.
   */
  readonly perItem?: number;
  readonly expensive?: true;
}

const num = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
const count = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

/** Relay connections: page size 1-100, default 25. */
const LIST: FieldCost = { base: 5, page: 25 };

/**
 * Most policies a tenant holds in practice is in the hundreds; a whole-tenant export reads all of
 * them with rules and exemptions and renders YAML, so it is priced as a few hundred rows.
 */
const WHOLE_EXPORT = 300;

export const ROOT_FIELD_COSTS: Readonly<Record<string, FieldCost>> = {
  // reads: lists are priced by the page they may return
  'Query.admissionEvents': { base: 20, page: 25 },
  // a page is two statements (workloads, then their violations) whose rows are read together
  'Query.runningWorkloads': { base: 20, page: 25, perItem: 0.2 },
  'Query.auditLog': LIST,
  'Query.cloudScopes': LIST,
  'Query.clusters': LIST,
  'Query.policies': LIST,
  'Query.roleAssignments': LIST,
  'Query.scanArtifacts': LIST,
  'Query.scanUploadTokens': LIST,
  'Query.alertRules': LIST,
  'Query.alertDestinations': LIST,
  'Query.alertDeliveries': LIST,
  'Query.bundleRollout': { base: 20, page: 200, perItem: 0.2 },
  'Query.me': { base: 2 },
  'Query.ruleCatalog': { base: 1 },
  'Query.policy': { base: 3 },
  'Query.admissionRetention': { base: 1 },
  'Query.scanArtifactHistory': { base: 1 },
  // reports and analytics: whole windows of the admission inventory
  'Query.exportPolicies': {
    base: (a) =>
      a['ids'] === undefined || a['ids'] === null ? WHOLE_EXPORT : Math.min(WHOLE_EXPORT, 20 + 5 * count(a['ids'])),
    expensive: true,
  },
  'Query.effectivePolicies': { base: 50, expensive: true },
  'Query.admissionSummary': { base: 100, expensive: true },
  'Query.auditToDenyReport': {
    base: (a) => 200 + 5 * num(a['days'], 30) + Math.ceil(num(a['workloadLimit'], 100) / 4),
    expensive: true,
  },
  'Query.simulatePolicy': {
    base: (a) => 400 + 10 * num(a['days'], 30) + Math.ceil(num(a['workloadLimit'], 100) / 4),
    expensive: true,
  },
  // writes: a transaction each, an audit entry, often a bundle recompile
  'Mutation.importPolicies': {
    base: (a) => 100 + Math.ceil(String(a['document'] ?? '').length / 1000),
    expensive: true,
  },
  'Mutation.addPolicyExemption': { base: 20 },
  'Mutation.removePolicyExemption': { base: 20 },
  'Mutation.assignRole': { base: 10 },
  'Mutation.revokeRole': { base: 10 },
  'Mutation.createCloudScope': { base: 10 },
  'Mutation.updateCloudScope': { base: 10 },
  'Mutation.deleteCloudScope': { base: 20 },
  'Mutation.createPolicy': { base: 20 },
  'Mutation.updatePolicy': { base: 20 },
  'Mutation.deletePolicy': { base: 20 },
  'Mutation.registerCluster': { base: 20 },
  'Mutation.rotateClusterToken': { base: 10 },
  'Mutation.deleteCluster': { base: 20 },
  'Mutation.setClusterEnforcementMode': { base: 20 },
  'Mutation.createScanUploadToken': { base: 10 },
  'Mutation.revokeScanUploadToken': { base: 10 },
  'Mutation.setAdmissionRetention': { base: 10 },
  'Mutation.setScanArtifactHistory': { base: 10 },
  'Mutation.createAlertRule': { base: 20 },
  'Mutation.updateAlertRule': { base: 20 },
  'Mutation.deleteAlertRule': { base: 10 },
  // alert destinations: a DNS resolution (SSRF check) and a transaction each
  'Mutation.createAlertDestination': { base: 20 },
  'Mutation.updateAlertDestination': { base: 20 },
  'Mutation.rotateAlertDestinationSecret': { base: 10 },
  'Mutation.deleteAlertDestination': { base: 10 },
  'Mutation.sendTestAlert': { base: 20 },
};

/**
 * Fields below the root that run a query of their own per parent, or count over a whole filter.
 * A connection's `totalCount` is one count per page, priced once, not once per item.
 */
export const NESTED_FIELD_COSTS: Readonly<Record<string, FieldCost>> = {
  'AdmissionEventConnection.totalCount': { base: 20 },
  'AuditLogEntryConnection.totalCount': { base: 10 },
  'AlertDeliveryConnection.totalCount': { base: 10 },
  'ScanArtifact.findings': { base: 5, page: 100 },
  // the page's native states and counters are two reads in all; each cluster's list is rows of them
  'ClusterRollout.nativePolicies': { base: 1 },
  // the posture summary aggregates every running workload matching the filter
  'RunningWorkloadConnection.summary': { base: 50 },
};

export function costOf(typeName: string, fieldName: string): FieldCost | undefined {
  const key = `${typeName}.${fieldName}`;
  return ROOT_FIELD_COSTS[key] ?? NESTED_FIELD_COSTS[key];
}

export function baseCost(cost: FieldCost, args: Args): number {
  return typeof cost.base === 'number' ? cost.base : cost.base(args);
}
