import type { AdmissionDecision, Finding } from '@portcullis/contracts';
import type { AdmissionRequestView } from './review';

export interface Decided {
  readonly request: AdmissionRequestView;
  readonly namespace: string | undefined;
  readonly findings: readonly Finding[];
  readonly decision: AdmissionDecision;
}

// kube-apiserver truncates longer warnings and drops them past a total size
const WARNING_MAX = 256;
const WARNINGS_TOTAL_MAX = 4000;
const DENY_LINES_MAX = 25;

function describe(f: Finding): string {
  return `policy "${f.policyName}", rule ${f.ruleId}${f.container ? `, container "${f.container}"` : ''}: ${f.message}`;
}

function objectName(d: Decided): string {
  const r = d.request;
  const meta =
    (typeof r.object === 'object' && r.object !== null
      ? (r.object as { metadata?: { name?: unknown; generateName?: unknown } }).metadata
      : undefined) ?? {};
  const name =
    r.name ||
    (typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '');
  // `kubectl debug` is an UPDATE of pods/ephemeralcontainers: say so, the Pod itself was not edited
  // names are at most 253 characters in Kubernetes; a review sent straight to the webhook can say anything
  return `${r.kind} ${d.namespace ? `${d.namespace}/` : ''}${name.slice(0, 253)}${r.subResource ? ` (subresource ${r.subResource.slice(0, 63)})` : ''}`;
}

/** Each Block-mode violation on its own line: policy, rule, container and how to fix it (the rule's message says). */
export function denyMessage(d: Decided): string {
  const blocking = d.findings.filter((f) => f.action === 'BLOCK' && !f.exempted);
  const lines = blocking.slice(0, DENY_LINES_MAX).map((f) => `- ${describe(f)}`);
  if (blocking.length > DENY_LINES_MAX) lines.push(`- ... and ${blocking.length - DENY_LINES_MAX} more`);
  const head = `portcullis denied ${objectName(d)}${d.request.dryRun ? ' (dry run)' : ''}: ${blocking.length} violation${blocking.length === 1 ? '' : 's'} of Block-mode policies`;
  return `${head}\n${lines.join('\n')}`;
}

/** Audit-mode violations as admission warnings, within what kube-apiserver passes on. */
export function warningsFor(d: Decided): string[] {
  const audit = d.findings.filter((f) => f.action === 'AUDIT' && !f.exempted);
  const out: string[] = [];
  let total = 0;
  for (let i = 0; i < audit.length; i++) {
    let w = `[audit] ${describe(audit[i]!)}`;
    if (w.length > WARNING_MAX) w = `${w.slice(0, WARNING_MAX - 3)}...`;
    if (total + w.length > WARNINGS_TOTAL_MAX - 64) {
      out.push(`[audit] ... and ${audit.length - i} more violations of Audit-mode policies`);
      break;
    }
    out.push(w);
    total += w.length;
  }
  return out;
}
