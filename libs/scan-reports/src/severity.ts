import type { Severity } from '@portcullis/bundle';

const ORDER: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

/**
 * Scanner severity words onto the engine's five. Grype's "Negligible" sits below Low
 * and counts as LOW (a gate errs toward counting); CycloneDX's "info" and "none" too.
 * Anything unrecognised, or no severity at all, is UNKNOWN: never dropped.
 */
export function severityOf(word: unknown): Severity {
  if (typeof word !== 'string') return 'UNKNOWN';
  switch (word.trim().toLowerCase()) {
    case 'critical':
      return 'CRITICAL';
    case 'high':
      return 'HIGH';
    case 'medium':
    case 'moderate':
      return 'MEDIUM';
    case 'low':
    case 'negligible':
    case 'info':
    case 'none':
      return 'LOW';
    default:
      return 'UNKNOWN';
  }
}

/** The worse of two severities; UNKNOWN only when nothing is known. */
export function worse(a: Severity, b: Severity): Severity {
  if (a === 'UNKNOWN') return b;
  if (b === 'UNKNOWN') return a;
  return ORDER.indexOf(a) <= ORDER.indexOf(b) ? a : b;
}
