import type { ScanFinding } from '@portcullis/bundle';
import { finding } from './findings';
import { identifyImage } from './image-identity';
import { MAX_FINDINGS, type ScanReportResult } from './model';
import { at, isObject, list, object, optionalObject, optionalString, score, strings, type Json } from './reader';
import { severityOf } from './severity';
import { scanTime, tooMany } from './shared';

/** Trivy JSON, `trivy image --format json` (SchemaVersion 2): Results[].Vulnerabilities[]. */
export function isTrivyReport(v: Json): boolean {
  return typeof v['SchemaVersion'] === 'number' && ('Results' in v || 'ArtifactName' in v);
}

export function normalizeTrivy(doc: Json): ScanReportResult {
  if (doc['SchemaVersion'] !== 2) {
    return {
      ok: false,
      reason: 'MALFORMED',
      path: 'SchemaVersion',
      message: `SchemaVersion: is ${String(doc['SchemaVersion'])}; only Trivy JSON schema 2 (Trivy 0.20 and later) is read`,
    };
  }
  const type = optionalString(doc['ArtifactType'], 'ArtifactType');
  if (type !== undefined && type !== 'container_image') {
    return {
      ok: false,
      reason: 'NOT_AN_IMAGE',
      path: 'ArtifactType',
      message: `ArtifactType: is ${JSON.stringify(type)}; only container image reports (trivy image) can gate admissions`,
    };
  }
  const meta = optionalObject(doc['Metadata'], 'Metadata') ?? {};
  const identity = identifyImage({
    repoDigests: strings(meta['RepoDigests'], 'Metadata.RepoDigests'),
    tags: strings(meta['RepoTags'], 'Metadata.RepoTags'),
    fallback:
      optionalString(meta['Reference'], 'Metadata.Reference') ?? optionalString(doc['ArtifactName'], 'ArtifactName'),
  });
  if (!identity) {
    return {
      ok: false,
      reason: 'NO_IMAGE_IDENTITY',
      path: 'Metadata',
      message:
        'Metadata: the report has no RepoDigests and no RepoTags, and ArtifactName names no tag or digest: nothing identifies the image (scan it by reference, e.g. trivy image registry/app:1.2)',
    };
  }
  const findings: ScanFinding[] = [];
  list(doc['Results'], 'Results').forEach((r, i) => {
    const rp = at('Results', i);
    const result = object(r, rp);
    list(result['Vulnerabilities'], at(rp, 'Vulnerabilities')).forEach((v, j) => {
      const vp = at(at(rp, 'Vulnerabilities'), j);
      const vuln = object(v, vp);
      if (findings.length >= MAX_FINDINGS) throw tooMany();
      findings.push(
        finding({
          path: vp,
          id: vuln['VulnerabilityID'],
          idPath: at(vp, 'VulnerabilityID'),
          severity: severityOf(optionalString(vuln['Severity'], at(vp, 'Severity'))),
          cvss: cvssOf(vuln),
          packageName: vuln['PkgName'],
          packagePath: at(vp, 'PkgName'),
          installedVersion: vuln['InstalledVersion'],
          installedPath: at(vp, 'InstalledVersion'),
          fixedVersion: optionalString(vuln['FixedVersion'], at(vp, 'FixedVersion')),
        }),
      );
    });
  });
  const imageId = optionalString(meta['ImageID'], 'Metadata.ImageID');
  const trivy = optionalObject(doc['Trivy'], 'Trivy');
  return {
    ok: true,
    report: {
      format: 'trivy',
      repository: identity.repository,
      tags: identity.tags,
      ...(identity.repoDigest !== undefined ? { repoDigest: identity.repoDigest } : {}),
      ...(imageId !== undefined && /^sha256:[0-9a-f]{64}$/.test(imageId) ? { imageId } : {}),
      tagBound: identity.repoDigest === undefined,
      scanner: { name: 'trivy', version: optionalString(trivy?.['Version'], 'Trivy.Version') || 'unknown' },
      ...scanTime(doc['CreatedAt'], 'CreatedAt'),
      findings,
      warnings: identity.warnings,
    },
  };
}

/**
 * The CVSS v3 score of the source Trivy took the severity from, else NVD's, else the
 * highest any vendor gives; v2 only when no v3 exists.
 */
function cvssOf(vuln: Json): number | undefined {
  const cvss = vuln['CVSS'];
  if (!isObject(cvss)) return undefined;
  const source = typeof vuln['SeveritySource'] === 'string' ? vuln['SeveritySource'] : undefined;
  const vendors = Object.values(cvss).filter(isObject);
  for (const key of ['V3Score', 'V2Score']) {
    const preferred = [source !== undefined ? cvss[source] : undefined, cvss['nvd']]
      .filter(isObject)
      .map((v) => score(v[key]))
      .find((s) => s !== undefined);
    if (preferred !== undefined) return preferred;
    const any = vendors.map((v) => score(v[key])).filter((s): s is number => s !== undefined);
    if (any.length) return Math.max(...any);
  }
  return undefined;
}
