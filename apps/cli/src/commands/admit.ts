import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIo } from '../command';

const USAGE = [
  'portcullis admit [--webhook URL] [--ca FILE] [-n NS] [--operation CREATE|UPDATE|DELETE] [--dry-run[=server]] <files|dirs... | ->',
  '',
  'Sends manifests to a Portcullis agent as kube-apiserver would: admission.k8s.io/v1',
  'AdmissionReviews to its validating webhook, then the requests the controllers would make',
  '(Deployment -> ReplicaSet -> Pods, CronJob -> Job -> Pods, Job, StatefulSet and DaemonSet',
  'pods), and prints what kubectl would print. Manifests: multi-document YAML, JSON, kind: List;',
  'directories are searched for *.yaml, *.yml and *.json; "-" reads stdin.',
  '',
  "  --webhook URL          the agent's webhook (default https://localhost:8443/validate)",
  "  --ca FILE              PEM CA to trust for the webhook's certificate (default: system roots)",
  '  --tls-server-name N    name to verify the certificate against (a port-forward: <svc>.<ns>.svc)',
  "  --timeout D            per-request timeout, e.g. 10s (default 10s, kube-apiserver's; at most 30s)",
  '  -n, --namespace NS     namespace of objects that name none (default: default)',
  '  --operation OP         CREATE (default), UPDATE or DELETE',
  '  --old FILE             UPDATE: the objects being replaced (matched by kind, namespace, name);',
  '                         otherwise an earlier document of the inputs, else the object itself',
  '  --dry-run[=server]     dry-run requests (dryRun: true); controllers never act on them',
  '  --as USER              the requesting user (default kubernetes-admin)',
  '  --as-group GROUP       a group of that user (repeatable; system:authenticated is added)',
  '  --max-pods N           pods sent per controller: min(replicas, N) (default 1)',
  '  --node-name NAME       the node a DaemonSet pod is created for (default node-1)',
  '  -o, --output FORMAT    text (default, as kubectl) or json (one result per request)',
  '',
  "Exit codes: 0 every request admitted; 1 at least one denied (a controller's too);",
  '2 usage or input error (file, document from 1 and line named; nothing is sent);',
  '3 the webhook could not be called or answered something that is not an AdmissionReview.',
].join('\n');

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE'] as const;
type OperationFlag = (typeof OPERATIONS)[number];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** kubectl-style durations: 10s, 500ms, 1m; a bare number is seconds. */
export function parseTimeout(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--timeout "${text}" is not a duration (e.g. 10s, 500ms)`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  // kube-apiserver accepts timeoutSeconds from 1 to 30
  if (ms <= 0 || ms > 30_000)
    throw new UsageError(`--timeout ${text}: must be more than 0 and at most 30s, as a webhook's timeoutSeconds`);
  return ms;
}

export function webhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--webhook "${text}" is not a URL`);
  }
  if (url.protocol !== 'https:')
    throw new UsageError(`--webhook ${text}: must be https (kube-apiserver calls webhooks only over TLS)`);
  if (url.username || url.password) throw new UsageError('--webhook: a URL with credentials is not accepted');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/validate';
  return url;
}

function readFile(flag: string, file: string, cwd: string): string {
  try {
    return fs.readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (err) {
    throw new UsageError(
      `${flag} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** `portcullis admit`: kube-apiserver's side of admission, from manifests, against a real agent. */
export const admitCommand: CliCommand = {
  name: 'admit',
  summary: "send manifests to an agent's webhook as kube-apiserver would; print what kubectl would",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    // `--dry-run` alone means server, as kubectl's does
    const args = argv.map((a) => (a === '--dry-run' ? '--dry-run=server' : a));
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: {
          webhook: { type: 'string', default: 'https://localhost:8443/validate' },
          ca: { type: 'string' },
          'tls-server-name': { type: 'string' },
          timeout: { type: 'string', default: '10s' },
          namespace: { type: 'string', short: 'n' },
          operation: { type: 'string', default: 'CREATE' },
          old: { type: 'string', multiple: true },
          'dry-run': { type: 'string' },
          as: { type: 'string' },
          'as-group': { type: 'string', multiple: true },
          'max-pods': { type: 'string', default: '1' },
          'node-name': { type: 'string', default: 'node-1' },
          output: { type: 'string', short: 'o', default: 'text' },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nusage: ${USAGE}`);
    }
    const { values: v, positionals } = parsed;
    const operation = String(v.operation).toUpperCase() as OperationFlag;
    if (!OPERATIONS.includes(operation)) throw new UsageError(`--operation must be one of ${OPERATIONS.join(', ')}`);
    const dryRunFlag = v['dry-run'];
    if (dryRunFlag !== undefined && !['server', 'none'].includes(dryRunFlag)) {
      throw new UsageError(
        dryRunFlag === 'client'
          ? '--dry-run=client sends nothing to the webhook; use --dry-run=server'
          : `--dry-run must be server or none, not "${dryRunFlag}"`,
      );
    }
    if (v.namespace !== undefined && !DNS_LABEL.test(v.namespace))
      throw new UsageError(`-n "${v.namespace}" is not a namespace name`);
    if (!['text', 'json'].includes(v.output!)) throw new UsageError('--output must be text or json');
    if (!/^\d{1,4}$/.test(v['max-pods']!))
      throw new UsageError(`--max-pods "${v['max-pods']}" is not a number from 0 to 9999`);
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v['node-name']!))
      throw new UsageError(`--node-name "${v['node-name']}" is not a node name`);
    if (v.old?.length && operation !== 'UPDATE') throw new UsageError('--old applies to --operation UPDATE only');
    if ((v['as-group']?.length ?? 0) > 0 && !v.as) throw new UsageError('--as-group needs --as');
    if (positionals.length === 0) throw new UsageError(`no manifests given\nusage: ${USAGE}`);
    const timeoutMs = parseTimeout(v.timeout!);
    const url = webhookUrl(v.webhook!);
    const ca = v.ca !== undefined ? readFile('--ca', v.ca, io.cwd) : undefined;
    if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new UsageError(`--ca ${v.ca}: no PEM certificate in it`);

    const admit = await import('../admit');
    const fail = (err: unknown): never => {
      if (err instanceof admit.InputError) throw new UsageError(err.message);
      throw err;
    };
    const objects = await admit.readManifests(positionals, { cwd: io.cwd, stdin: io.stdin }).catch(fail);
    const oldObjects = v.old?.length
      ? await admit.readManifests(v.old, { cwd: io.cwd, stdin: io.stdin }).catch(fail)
      : undefined;
    const user = v.as ? admit.impersonatedUser(v.as, v['as-group'] ?? []) : admit.KUBERNETES_ADMIN;

    const byIndex: import('../admit').AdmitResult[] = [];
    const text = v.output === 'text';
    const results = await admit
      .admitManifests(objects, {
        target: {
          url,
          ...(ca ? { ca } : {}),
          ...(v['tls-server-name'] ? { serverName: v['tls-server-name'] } : {}),
          timeoutMs,
        },
        operation,
        dryRun: dryRunFlag === 'server',
        ...(v.namespace ? { namespace: v.namespace } : {}),
        user,
        maxPods: Number(v['max-pods']),
        nodeName: v['node-name']!,
        ...(oldObjects ? { oldObjects } : {}),
        onResult: (r) => {
          byIndex[r.index] = r;
          if (!text) return;
          const lines = admit.textFor(
            r,
            r.parent !== null ? byIndex[r.parent] : undefined,
            admit.WEBHOOK_NAME,
            url.toString(),
          );
          for (const l of lines.stderr) io.stderr.write(`${l}\n`);
          for (const l of lines.stdout) io.stdout.write(`${l}\n`);
        },
      })
      .catch(fail);
    if (!text) io.stdout.write(`${admit.jsonFor(results, admit.WEBHOOK_NAME)}\n`);
    if (results.some((r) => r.outcome === 'error')) return 3;
    return results.some((r) => r.outcome === 'denied') ? 1 : 0;
  },
};
