import type { ScanFinding, Severity } from '@portcullis/bundle';
import { FINDING_LIMITS } from './model';
import { MalformedReport, requiredString } from './reader';

/** Raw finding fields as one scanner reports them, with where they came from. */
export interface RawFinding {
  readonly path: string;
  readonly id: unknown;
  readonly idPath: string;
  readonly severity: Severity;
  readonly cvss: number | undefined;
  readonly packageName: unknown;
  readonly packagePath: string;
  readonly installedVersion: unknown;
  readonly installedPath: string;
  readonly fixedVersion: string | undefined;
}

/**
 * A finding in the artifact's shape. The vulnerability id and package are identity and
 * must be there; an installed version a scanner leaves empty (binaries it could not
 * version) is recorded as "unknown" rather than refusing the report.
 */
export function finding(raw: RawFinding): ScanFinding {
  const id = requiredString(raw.id, raw.idPath, FINDING_LIMITS.id);
  const packageName = requiredString(raw.packageName, raw.packagePath, FINDING_LIMITS.packageName);
  if (raw.installedVersion !== undefined && raw.installedVersion !== null && typeof raw.installedVersion !== 'string') {
    throw new MalformedReport(raw.installedPath, 'is not a string');
  }
  const installed =
    typeof raw.installedVersion === 'string' && raw.installedVersion.trim() !== '' ? raw.installedVersion : 'unknown';
  if (installed.length > FINDING_LIMITS.version)
    throw new MalformedReport(raw.installedPath, `is longer than ${FINDING_LIMITS.version} characters`);
  const fixed = raw.fixedVersion?.trim() ? clip(raw.fixedVersion.trim()) : undefined;
  return {
    id,
    severity: raw.severity,
    ...(raw.cvss !== undefined ? { cvss: raw.cvss } : {}),
    packageName,
    installedVersion: installed,
    ...(fixed !== undefined ? { fixedVersion: fixed } : {}),
  };
}

/** Several fixed versions joined can run long; the first ones are what a reader needs. */
function clip(fixed: string): string {
  if (fixed.length <= FINDING_LIMITS.version) return fixed;
  const cut = fixed.slice(0, FINDING_LIMITS.version - 2);
  const comma = cut.lastIndexOf(',');
  return `${comma > 0 ? cut.slice(0, comma) : cut} …`;
}
