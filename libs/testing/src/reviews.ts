import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { repoPath } from '@portcullis/config';

export const SHARED = path.resolve(repoPath(), '..', 'shared', 'fixtures');
export const SHARED_MISSING = fs.existsSync(SHARED) ? false : `../shared/fixtures is absent (${SHARED})`;

/** An AdmissionReview (v1) as kube-apiserver sends it, for `object`. */
export function reviewOf(
  object: Record<string, unknown>,
  o: { operation?: string; namespace?: string; dryRun?: boolean; uid?: string; username?: string } = {},
): Record<string, unknown> {
  const meta = (object['metadata'] ?? {}) as { name?: string; namespace?: string };
  const [group, version] = String(object['apiVersion']).includes('/')
    ? String(object['apiVersion']).split('/')
    : ['', String(object['apiVersion'])];
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? `uid-${Math.random().toString(16).slice(2)}`,
      kind: { group, version, kind: object['kind'] },
      resource: { group, version, resource: `${String(object['kind']).toLowerCase()}s` },
      operation: o.operation ?? 'CREATE',
      namespace: o.namespace ?? meta.namespace ?? 'default',
      name: meta.name ?? '',
      userInfo: {
        username: o.username ?? 'system:serviceaccount:argocd:argocd-application-controller',
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: o.dryRun ?? false,
    },
  };
}

export function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** A bare AdmissionRequest fixture wrapped in its envelope. */
export function wrapRequest(request: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

export interface ReviewAnswer {
  readonly status: number;
  readonly review: {
    apiVersion: string;
    kind: string;
    response: {
      uid: string;
      allowed: boolean;
      status?: { code: number; message: string };
      warnings?: string[];
      auditAnnotations?: Record<string, string>;
    };
  };
}

/** POSTs a body to the webhook over HTTPS, trusting the test CA. */
export function postReview(
  port: number,
  ca: string,
  body: string | Buffer,
  agent?: https.Agent,
): Promise<ReviewAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca,
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            review: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReviewAnswer['review'],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // an answer that never comes (a connection to an agent killed meanwhile) fails, naming itself
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to the review on port ${port} within 15 s`)));
    req.end(body);
  });
}
