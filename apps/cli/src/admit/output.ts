import type { AdmitResult } from './admit';
import { kubectlName, quotedName } from './resources';

/**
 * kubectl's words for what happened. A user's request prints as `kubectl apply` /
 * `kubectl delete` would; a controller's request, which kubectl never shows, prints
 * indented under what made it, as the controller's own event (`FailedCreate`) when refused.
 */

/** The webhook's text as printed: line breaks kept, other control characters (terminal escapes) shown escaped. */
function printable(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const VERB_ING = { CREATE: 'creating', UPDATE: 'replacing', DELETE: 'deleting' } as const;

/**
 * The API error kube-apiserver returns for a refusal (webhookerrors.ToStatusErr): the
 * webhook's message after `admission webhook "<name>" denied the request`, a code of at
 * least 400, and the webhook's reason.
 */
export function deniedStatus(webhookName: string, r: AdmitResult): { code: number; reason: string; message: string } {
  const s = r.response?.status ?? {};
  const deniedBy = `admission webhook "${webhookName}" denied the request`;
  const message = s.message
    ? `${deniedBy}: ${printable(s.message)}`
    : s.reason
      ? `${deniedBy}: ${printable(s.reason)}`
      : `${deniedBy} without explanation`;
  return { code: s.code !== undefined && s.code >= 400 ? s.code : 400, reason: printable(s.reason ?? ''), message };
}

/** kube-apiserver's error when a webhook cannot be called and failure means refusal (failurePolicy Fail). */
function callFailed(webhookName: string, r: AdmitResult, url: string): string {
  return `Internal error occurred: failed calling webhook "${webhookName}": failed to call webhook: Post "${url}": ${r.error ?? 'unknown error'}`;
}

const sourceName = (r: AdmitResult) => (r.source === '-' ? 'STDIN' : r.source);

export interface TextLines {
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Lines for one result, in the order kubectl writes them: warnings first, then the outcome. */
export function textFor(r: AdmitResult, parent: AdmitResult | undefined, webhookName: string, url: string): TextLines {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const dry = r.dryRun ? ' (server dry run)' : '';
  const warnings = r.response?.warnings ?? [];
  if (r.depth === 0) {
    for (const w of warnings) stderr.push(`Warning: ${w}`);
    if (r.outcome === 'allowed') {
      if (r.operation === 'DELETE') stdout.push(`${quotedName(r.resource, r.name)} deleted${dry}`);
      else
        stdout.push(`${kubectlName(r.resource, r.name)} ${r.operation === 'CREATE' ? 'created' : 'configured'}${dry}`);
    } else {
      const status =
        r.outcome === 'denied'
          ? deniedStatus(webhookName, r)
          : { reason: 'InternalError', message: callFailed(webhookName, r, url) };
      const err = `error when ${VERB_ING[r.operation]} "${sourceName(r)}": ${status.message}`;
      stderr.push(status.reason ? `Error from server (${status.reason}): ${err}` : `Error from server: ${err}`);
    }
    return { stdout, stderr };
  }
  const indent = '  '.repeat(r.depth);
  const by = r.controller ?? 'controller';
  for (const w of warnings) stdout.push(`${indent}Warning: ${w}`);
  if (r.outcome === 'allowed') {
    stdout.push(
      `${indent}${kubectlName(r.resource, r.name)} created (${by})${r.sent ? '' : ' (not sent: the webhook does not match it)'}`,
    );
  } else {
    const message = r.outcome === 'denied' ? deniedStatus(webhookName, r).message : callFailed(webhookName, r, url);
    const owner = parent ? kubectlName(parent.resource, parent.name) : '';
    // the controller's event on its object, as `kubectl get events` shows it; the message keeps its lines
    const lines = `Warning  FailedCreate  ${owner}  (${by})  Error creating: ${message}`.split('\n');
    stdout.push(...lines.map((l, i) => `${indent}${i === 0 ? '' : '  '}${l}`));
  }
  return { stdout, stderr };
}

/** `--output json`: one result per request, in the order they were made. */
export function jsonFor(results: readonly AdmitResult[], webhookName: string): string {
  return JSON.stringify(
    {
      results: results.map((r) => ({
        index: r.index,
        parent: r.parent,
        depth: r.depth,
        source: r.source,
        document: r.document,
        ...(r.item !== undefined ? { item: r.item } : {}),
        ...(r.line !== undefined ? { line: r.line } : {}),
        operation: r.operation,
        dryRun: r.dryRun,
        apiVersion: r.apiVersion,
        kind: r.kind,
        namespace: r.namespace ?? null,
        name: r.name,
        user: r.user,
        ...(r.controller ? { controller: r.controller } : {}),
        uid: r.uid,
        sent: r.sent,
        outcome: r.outcome,
        allowed: r.outcome === 'allowed',
        warnings: r.response?.warnings ?? [],
        ...(r.outcome === 'denied' ? { status: deniedStatus(webhookName, r) } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.response?.auditAnnotations ? { auditAnnotations: r.response.auditAnnotations } : {}),
      })),
      summary: {
        requests: results.length,
        sent: results.filter((r) => r.sent).length,
        allowed: results.filter((r) => r.outcome === 'allowed').length,
        denied: results.filter((r) => r.outcome === 'denied').length,
        errors: results.filter((r) => r.outcome === 'error').length,
      },
    },
    null,
    2,
  );
}
