import type { ScanFinding, Severity } from '@portcullis/bundle';
import { finding } from './findings';
import { identifyImage } from './image-identity';
import { MAX_FINDINGS, type ScanReportResult } from './model';
import { at, isObject, list, object, optionalObject, optionalString, score, type Json } from './reader';
import { severityOf, worse } from './severity';
import { scanTime, tooMany } from './shared';

/** CycloneDX JSON with a `vulnerabilities` section (Trivy `--format cyclonedx`, Grype `-o cyclonedx-json`). */
export function isCycloneDxReport(v: Json): boolean {
  return v['bomFormat'] === 'CycloneDX';
}

export function normalizeCycloneDx(doc: Json): ScanReportResult {
  const metadata = optionalObject(doc['metadata'], 'metadata') ?? {};
  const component = optionalObject(metadata['component'], 'metadata.component');
  const ctype = optionalString(component?.['type'], 'metadata.component.type');
  if (ctype !== 'container') {
    return {
      ok: false,
      reason: 'NOT_AN_IMAGE',
      path: 'metadata.component.type',
      message: `metadata.component.type: is ${JSON.stringify(ctype ?? null)}; only a BOM of a container image can gate admissions`,
    };
  }
  const identity = identifyImage(imageNames(component!));
  if (!identity) {
    return {
      ok: false,
      reason: 'NO_IMAGE_IDENTITY',
      path: 'metadata.component',
      message:
        'metadata.component: no RepoDigest or RepoTag property, no pkg:oci purl, and a name without a tag or digest: nothing identifies the image',
    };
  }
  const components = componentsByRef(doc);
  const findings: ScanFinding[] = [];
  list(doc['vulnerabilities'], 'vulnerabilities').forEach((v, i) => {
    const vp = at('vulnerabilities', i);
    const vuln = object(v, vp);
    const { severity, cvss } = rate(list(vuln['ratings'], at(vp, 'ratings')));
    const affects = list(vuln['affects'], at(vp, 'affects'));
    // a vulnerability without an affected component is still a finding of the image
    const targets = affects.length ? affects : [{ ref: '(unspecified)' }];
    targets.forEach((a, j) => {
      const ap = at(at(vp, 'affects'), j);
      const affected = object(a, ap);
      const ref = optionalString(affected['ref'], at(ap, 'ref')) ?? '(unspecified)';
      const pkg = packageOf(ref, components);
      const versions = list(affected['versions'], at(ap, 'versions')).filter(isObject);
      const installed =
        versions.find((x) => x['status'] === 'affected' && typeof x['version'] === 'string')?.['version'] ??
        pkg.version;
      const fixed = versions
        .filter((x) => x['status'] === 'unaffected' && typeof x['version'] === 'string')
        .map((x) => x['version'] as string);
      if (findings.length >= MAX_FINDINGS) throw tooMany();
      findings.push(
        finding({
          path: ap,
          id: vuln['id'],
          idPath: at(vp, 'id'),
          severity,
          cvss,
          packageName: pkg.name,
          packagePath: at(ap, 'ref'),
          installedVersion: installed,
          installedPath: at(ap, 'versions'),
          fixedVersion: fixed.length ? fixed.join(', ') : undefined,
        }),
      );
    });
  });
  const imageId = propertyValues(component!, 'aquasecurity:trivy:ImageID')[0];
  return {
    ok: true,
    report: {
      format: 'cyclonedx',
      repository: identity.repository,
      tags: identity.tags,
      ...(identity.repoDigest !== undefined ? { repoDigest: identity.repoDigest } : {}),
      ...(imageId !== undefined && /^sha256:[0-9a-f]{64}$/.test(imageId) ? { imageId } : {}),
      tagBound: identity.repoDigest === undefined,
      scanner: toolOf(metadata),
      ...scanTime(metadata['timestamp'], 'metadata.timestamp'),
      findings,
      warnings: identity.warnings,
    },
  };
}

function propertyValues(component: Json, name: string): string[] {
  const props = Array.isArray(component['properties']) ? component['properties'].filter(isObject) : [];
  return props.filter((p) => p['name'] === name && typeof p['value'] === 'string').map((p) => p['value'] as string);
}

/** Trivy's image properties, else the `pkg:oci` purl (digest + repository_url), else the name. */
function imageNames(component: Json): { repoDigests: string[]; tags: string[]; fallback?: string } {
  const repoDigests = propertyValues(component, 'aquasecurity:trivy:RepoDigest');
  const tags = propertyValues(component, 'aquasecurity:trivy:RepoTag');
  const purl = typeof component['purl'] === 'string' ? component['purl'] : '';
  const oci = /^pkg:oci\/[^@?#]+@([^?#]+)\?(?:[^#]*&)?repository_url=([^&#]+)/.exec(purl);
  if (repoDigests.length === 0 && oci)
    repoDigests.push(`${decodeURIComponent(oci[2]!)}@${decodeURIComponent(oci[1]!)}`);
  const name = typeof component['name'] === 'string' ? component['name'] : undefined;
  return { repoDigests, tags, ...(name !== undefined ? { fallback: name } : {}) };
}

/** The worst severity any rating gives (vendors disagree; a gate errs toward the worse), and the best CVSS v3+ score. */
function rate(ratings: readonly unknown[]): { severity: Severity; cvss: number | undefined } {
  let severity: Severity = 'UNKNOWN';
  let v3: number | undefined;
  let other: number | undefined;
  for (const r of ratings) {
    if (!isObject(r)) continue;
    severity = worse(severity, r['severity'] === undefined ? 'UNKNOWN' : severityOf(r['severity']));
    const s = score(r['score']);
    if (s === undefined) continue;
    const method = typeof r['method'] === 'string' ? r['method'] : '';
    if (/^CVSSv[34]/.test(method)) v3 = Math.max(v3 ?? 0, s);
    else other = Math.max(other ?? 0, s);
  }
  return { severity, cvss: v3 ?? other };
}

interface Pkg {
  readonly name: string;
  readonly version?: string;
}

function componentsByRef(doc: Json): Map<string, Pkg> {
  const out = new Map<string, Pkg>();
  const walk = (items: unknown) => {
    if (!Array.isArray(items)) return;
    for (const c of items) {
      if (!isObject(c)) continue;
      const ref = c['bom-ref'];
      if (typeof ref === 'string' && typeof c['name'] === 'string') {
        const name = typeof c['group'] === 'string' && c['group'] ? `${c['group']}:${c['name']}` : c['name'];
        out.set(ref, { name, ...(typeof c['version'] === 'string' ? { version: c['version'] } : {}) });
      }
      walk(c['components']);
    }
  };
  walk(doc['components']);
  return out;
}

/**
 * The package a vulnerability affects: the component its bom-ref names, else what the
 * ref's purl says (a BOM-link `urn:cdx:...#pkg:...` points into another BOM).
 */
function packageOf(ref: string, components: ReadonlyMap<string, Pkg>): Pkg {
  const known = components.get(ref);
  if (known) return known;
  const hash = ref.startsWith('urn:cdx:') ? ref.indexOf('#') : -1;
  const inner = hash >= 0 ? safeDecode(ref.slice(hash + 1)) : ref;
  const fromLink = components.get(inner);
  if (fromLink) return fromLink;
  const purl = /^pkg:[a-z0-9.+-]+\/(?:([^@?#]+)\/)?([^/@?#]+)(?:@([^?#]+))?/i.exec(inner);
  if (!purl) return { name: inner };
  const ns = purl[1] ? safeDecode(purl[1]) : undefined;
  const name = safeDecode(purl[2]!);
  // Maven coordinates read group:artifact; OS packages are known by their name alone
  const qualified = ns && /^pkg:maven\//i.test(inner) ? `${ns}:${name}` : name;
  return { name: qualified, ...(purl[3] ? { version: safeDecode(purl[3]) } : {}) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function toolOf(metadata: Json): { name: string; version: string } {
  const tools = metadata['tools'];
  const list = Array.isArray(tools)
    ? tools
    : isObject(tools) && Array.isArray(tools['components'])
      ? tools['components']
      : [];
  const tool = list.find(isObject);
  const name = tool && typeof tool['name'] === 'string' && tool['name'] ? tool['name'].slice(0, 64) : 'unknown';
  const version =
    tool && typeof tool['version'] === 'string' && tool['version'] ? tool['version'].slice(0, 64) : 'unknown';
  return { name, version };
}
