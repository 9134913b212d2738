import { tenantDaysSettingResolver } from '../tenancy/tenant-days-setting';

/** How long the tenant keeps scan-artifact history (tenants.scan_history_days): GraphQL `scanArtifactHistory` / `setScanArtifactHistory`. */
export const ScanArtifactHistoryResolver = tenantDaysSettingResolver({
  column: 'scanHistoryDays',
  bounds: { min: 1, max: 3650 },
  // scan artifacts are tenant-wide (an image may run in any cloud scope): so is their history
  forbiddenMessage: 'the scan-artifact history needs OWNER or SECURITY_ADMIN at tenant level',
  typeName: 'ScanArtifactHistory',
  what: "the tenant's scan-artifact history",
  daysDescription:
    'Scan artifacts that no lookup can return any more (an older scan of a digest scanned again since, a tag that moved on) are removed once received more than this many days ago, by the hourly maintenance job. What a lookup can return is kept however old.',
  whenShortened: 'Shortening it deletes older history at the next hourly run.',
});
