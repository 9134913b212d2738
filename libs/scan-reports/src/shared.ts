import { MAX_FINDINGS } from './model';
import { MalformedReport, optionalString } from './reader';

/** Thrown when a report lists more findings than an artifact may carry. */
export class TooManyFindings extends Error {
  constructor() {
    super(`the report lists more than ${MAX_FINDINGS} findings, more than one signed artifact may carry`);
    this.name = 'TooManyFindings';
  }
}

export const tooMany = () => new TooManyFindings();

/**
 * The scan time as UTC ISO-8601 with milliseconds. Absent or empty: the report does not
 * say (the server then uses the upload time). Present but unreadable: refused, since
 * the age of the scan decides `vulnerability-assessment-required`.
 */
export function scanTime(value: unknown, path: string): { scannedAt?: string } {
  const text = optionalString(value, path);
  if (text === undefined || text.trim() === '') return {};
  // nanosecond fractions (Go's RFC 3339) are cut to what a Date holds
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T.*(?:Z|[+-]\d{2}:?\d{2})$/i.test(text))
    throw new MalformedReport(path, `is ${JSON.stringify(text.slice(0, 64))}, not an RFC 3339 timestamp with a zone`);
  return { scannedAt: new Date(ms).toISOString() };
}
