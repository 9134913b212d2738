import { createHash } from 'node:crypto';
import { canonicalJson, checkScanArtifactDocument, type ScanArtifactDocument } from '@portcullis/bundle';
import { findControlCharacter } from '@portcullis/contracts';
import { isCycloneDxReport, normalizeCycloneDx } from './cyclonedx';
import { isGrypeReport, normalizeGrype } from './grype';
import { type NormalizedScanReport, type ScanReportFormat, type ScanReportResult } from './model';
import { isObject, MalformedReport, type Json } from './reader';
import { TooManyFindings } from './shared';
import { isTrivyReport, normalizeTrivy } from './trivy';

const SUPPORTED =
  'Trivy JSON (trivy image --format json), Grype JSON (grype -o json) or CycloneDX JSON with vulnerabilities';

export function detectScanReportFormat(value: unknown): ScanReportFormat | undefined {
  if (!isObject(value)) return undefined;
  if (isTrivyReport(value)) return 'trivy';
  if (isGrypeReport(value)) return 'grype';
  if (isCycloneDxReport(value)) return 'cyclonedx';
  return undefined;
}

/** A report as uploaded (bytes or text): JSON first, then {@link normalizeScanReport}. */
export function parseScanReport(body: string | Uint8Array): ScanReportResult {
  const text = (
    typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  ).replace(/^\uFEFF/, '');
  if (text.trim() === '')
    return { ok: false, reason: 'MALFORMED', path: '(body)', message: `the report is empty; send ${SUPPORTED}` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8 says where ("Unexpected token } in JSON at position 1234"): enough to find it, nothing of the content
    const where = /position \d+|line \d+ column \d+/.exec(err instanceof Error ? err.message : '')?.[0];
    return {
      ok: false,
      reason: 'MALFORMED',
      path: '(body)',
      message: `the report is not valid JSON${where ? ` (at ${where})` : ''}`,
    };
  }
  return normalizeScanReport(value);
}

/**
 * Normalises a parsed Trivy, Grype or CycloneDX report into one image's artifact
 * content. Never throws: every refusal is a value with a reason and the field at fault.
 */
export function normalizeScanReport(value: unknown): ScanReportResult {
  const format = detectScanReportFormat(value);
  if (!format) return { ok: false, reason: 'UNKNOWN_FORMAT', path: '(body)', message: unknownFormat(value) };
  let result: ScanReportResult;
  try {
    const doc = value as Json;
    result =
      format === 'trivy' ? normalizeTrivy(doc) : format === 'grype' ? normalizeGrype(doc) : normalizeCycloneDx(doc);
  } catch (err) {
    if (err instanceof MalformedReport) return { ok: false, reason: 'MALFORMED', path: err.path, message: err.message };
    if (err instanceof TooManyFindings) return { ok: false, reason: 'TOO_MANY_FINDINGS', message: err.message };
    throw err;
  }
  if (!result.ok) return result;
  // what is returned here must be signable: checked against the signed document's own schema
  const document = toScanArtifactDocument(result.report, '00000000-0000-4000-8000-000000000000', new Date(0));
  const checked = checkScanArtifactDocument(document);
  if (!checked.ok)
    return { ok: false, reason: 'MALFORMED', message: `the report does not make a valid artifact: ${checked.message}` };
  // what is kept is stored and shown: PostgreSQL cannot hold U+0000, and no reader should get control characters
  const control = findControlCharacter(document, '');
  if (control)
    return {
      ok: false,
      reason: 'MALFORMED',
      path: control.path,
      message: `the artifact's ${control.path} (from the report) ${control.problem}`,
    };
  return result;
}

function unknownFormat(value: unknown): string {
  if (Array.isArray(value) && value.some((r) => isObject(r) && 'Target' in r)) {
    return `this looks like Trivy JSON schema 1 (Trivy before 0.20), which carries no image metadata; send ${SUPPORTED}`;
  }
  if (
    isObject(value) &&
    Array.isArray(value['runs']) &&
    (String(value['$schema'] ?? '').includes('sarif') || value['version'] === '2.1.0')
  ) {
    return `SARIF is not read (it has no package versions or repo digests); send ${SUPPORTED}`;
  }
  if (isObject(value) && value['bomFormat'] === undefined && typeof value['spdxVersion'] === 'string') {
    return `SPDX documents carry no vulnerabilities; send ${SUPPORTED}`;
  }
  return `the report is not ${SUPPORTED}`;
}

/**
 * The identity of a report's content: SHA-256 (hex) of the canonical JSON of what the
 * artifact will say, without the tenant or a server-chosen time. The same report
 * uploaded twice has the same hash, whatever its whitespace or key order.
 */
export function scanReportContentHash(report: NormalizedScanReport): string {
  const content = {
    repository: report.repository,
    tags: report.tags,
    repoDigest: report.repoDigest ?? null,
    imageId: report.imageId ?? null,
    scanner: report.scanner,
    scannedAt: report.scannedAt ?? null,
    findings: report.findings,
  };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The document that is signed: the report's content, the tenant, and the scan time (the report's, else `receivedAt`). */
export function toScanArtifactDocument(
  report: NormalizedScanReport,
  tenantId: string,
  receivedAt: Date,
): ScanArtifactDocument {
  return {
    schemaVersion: 1,
    tenantId,
    repository: report.repository,
    tags: report.tags,
    ...(report.repoDigest !== undefined ? { repoDigest: report.repoDigest } : {}),
    ...(report.imageId !== undefined ? { imageId: report.imageId } : {}),
    tagBound: report.repoDigest === undefined,
    scanner: report.scanner,
    scannedAt: report.scannedAt ?? receivedAt.toISOString(),
    findings: report.findings,
  };
}
