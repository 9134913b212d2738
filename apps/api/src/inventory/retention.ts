import { tenantDaysSettingResolver } from '../tenancy/tenant-days-setting';

/** The tenant's admission-inventory retention (tenants.admission_retention_days): GraphQL `admissionRetention` / `setAdmissionRetention`. */
export const AdmissionRetentionResolver = tenantDaysSettingResolver({
  column: 'admissionRetentionDays',
  bounds: { min: 1, max: 400 },
  // it deletes the inventory of every cloud scope of the tenant: a role on one scope is not enough
  forbiddenMessage: 'the admission retention needs OWNER or SECURITY_ADMIN at tenant level',
  typeName: 'AdmissionRetention',
  what: "the tenant's admission inventory",
  daysDescription:
    'Admission events, their rollups and snapshots no longer referenced are removed once older than this many days (UTC days), by the hourly maintenance job.',
  whenShortened: 'Shortening it deletes older events at the next hourly run.',
});
