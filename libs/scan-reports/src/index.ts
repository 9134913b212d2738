// libs/scan-reports: Trivy, Grype and CycloneDX vulnerability reports normalised into
// one image's scan artifact content. Pure: no framework, no I/O.
export {
  detectScanReportFormat,
  normalizeScanReport,
  parseScanReport,
  scanReportContentHash,
  toScanArtifactDocument,
} from './normalize';
export { FINDING_LIMITS, MAX_FINDINGS } from './model';
export type {
  NormalizedScanReport,
  ScanReportFormat,
  ScanReportRejection,
  ScanReportRejectionReason,
  ScanReportResult,
} from './model';
export { severityOf } from './severity';
