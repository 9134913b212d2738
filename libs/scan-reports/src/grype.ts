import type { ScanFinding } from '@portcullis/bundle';
import { finding } from './findings';
import { identifyImage } from './image-identity';
import { MAX_FINDINGS, type ScanReportResult } from './model';
import { at, isObject, list, object, optionalObject, optionalString, score, strings, type Json } from './reader';
import { severityOf } from './severity';
import { scanTime, tooMany } from './shared';

/** Grype JSON, `grype -o json`: matches[] with vulnerability and artifact, the image in source.target. */
export function isGrypeReport(v: Json): boolean {
  const descriptor = v['descriptor'];
  return (
    Array.isArray(v['matches']) && (isObject(v['source']) || (isObject(descriptor) && descriptor['name'] === 'grype'))
  );
}

export function normalizeGrype(doc: Json): ScanReportResult {
  const source = optionalObject(doc['source'], 'source');
  const type = optionalString(source?.['type'], 'source.type');
  if (type !== 'image') {
    return {
      ok: false,
      reason: 'NOT_AN_IMAGE',
      path: 'source.type',
      message: `source.type: is ${JSON.stringify(type ?? null)}; only image scans (grype <image>) can gate admissions`,
    };
  }
  const target = object(source!['target'], 'source.target');
  // manifestDigest is not used: for a multi-arch image it is one platform's manifest, not
  // the index digest a pod names, and for daemon sources it is computed locally
  const identity = identifyImage({
    repoDigests: strings(target['repoDigests'], 'source.target.repoDigests'),
    tags: strings(target['tags'], 'source.target.tags'),
    fallback: optionalString(target['userInput'], 'source.target.userInput'),
  });
  if (!identity) {
    return {
      ok: false,
      reason: 'NO_IMAGE_IDENTITY',
      path: 'source.target',
      message:
        'source.target: the report has no repoDigests and no tags, and userInput names no tag or digest: nothing identifies the image (scan it by reference, e.g. grype registry/app:1.2)',
    };
  }
  const findings: ScanFinding[] = [];
  list(doc['matches'], 'matches').forEach((m, i) => {
    const mp = at('matches', i);
    const match = object(m, mp);
    const vuln = object(match['vulnerability'], at(mp, 'vulnerability'));
    const artifact = object(match['artifact'], at(mp, 'artifact'));
    const vp = at(mp, 'vulnerability');
    if (findings.length >= MAX_FINDINGS) throw tooMany();
    findings.push(
      finding({
        path: mp,
        id: vuln['id'],
        idPath: at(vp, 'id'),
        severity: severityOf(optionalString(vuln['severity'], at(vp, 'severity'))),
        cvss: cvssOf(vuln) ?? relatedCvss(match, vuln['id']),
        packageName: artifact['name'],
        packagePath: at(at(mp, 'artifact'), 'name'),
        installedVersion: artifact['version'],
        installedPath: at(at(mp, 'artifact'), 'version'),
        fixedVersion: fixedOf(vuln, vp),
      }),
    );
  });
  const descriptor = optionalObject(doc['descriptor'], 'descriptor');
  const version = optionalString(descriptor?.['version'], 'descriptor.version');
  const imageId = optionalString(target['imageID'], 'source.target.imageID');
  return {
    ok: true,
    report: {
      format: 'grype',
      repository: identity.repository,
      tags: identity.tags,
      ...(identity.repoDigest !== undefined ? { repoDigest: identity.repoDigest } : {}),
      ...(imageId !== undefined && /^sha256:[0-9a-f]{64}$/.test(imageId) ? { imageId } : {}),
      tagBound: identity.repoDigest === undefined,
      // a build without version information says "[not provided]"
      scanner: { name: 'grype', version: version && !version.startsWith('[') ? version : 'unknown' },
      ...scanTime(descriptor?.['timestamp'], 'descriptor.timestamp'),
      findings,
      warnings: identity.warnings,
    },
  };
}

/** Only a fix Grype calls "fixed" counts for onlyFixable; "not-fixed", "wont-fix" and "" do not. */
function fixedOf(vuln: Json, path: string): string | undefined {
  const fix = optionalObject(vuln['fix'], at(path, 'fix'));
  if (!fix || fix['state'] !== 'fixed') return undefined;
  const versions = strings(fix['versions'], at(at(path, 'fix'), 'versions'));
  return versions.length ? versions.join(', ') : undefined;
}

/**
 * Base score of the newest CVSS version, the primary source first. Grype >= 0.40 lists
 * `cvss: [{version, metrics: {baseScore}, type}]`; older ones `cvssV3` / `cvssV2`.
 */
function cvssOf(vuln: Json): number | undefined {
  const entries = Array.isArray(vuln['cvss']) ? vuln['cvss'].filter(isObject) : [];
  const scored = entries
    .map((c) => ({
      version: Number.parseFloat(String(c['version'] ?? '0')) || 0,
      primary: c['type'] === 'Primary' ? 1 : 0,
      score: score(isObject(c['metrics']) ? c['metrics']['baseScore'] : undefined),
    }))
    .filter((c): c is { version: number; primary: number; score: number } => c.score !== undefined)
    .sort((a, b) => b.version - a.version || b.primary - a.primary);
  if (scored.length) return scored[0]!.score;
  for (const key of ['cvssV3', 'cvssV2']) {
    const legacy = vuln[key];
    if (isObject(legacy) && score(legacy['baseScore']) !== undefined) return score(legacy['baseScore']);
  }
  return undefined;
}

/** A distro advisory often carries no score; the NVD record it relates to does. */
function relatedCvss(match: Json, id: unknown): number | undefined {
  const related = Array.isArray(match['relatedVulnerabilities'])
    ? match['relatedVulnerabilities'].filter(isObject)
    : [];
  for (const r of related) {
    if (r['id'] !== id) continue;
    const s = cvssOf(r);
    if (s !== undefined) return s;
  }
  return undefined;
}
