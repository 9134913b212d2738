import * as https from 'node:https';

export interface WebhookAnswer {
  readonly allowed: boolean;
  readonly message?: string;
  readonly warnings: readonly string[];
  readonly auditAnnotations: Readonly<Record<string, string>>;
}

/** POSTs one AdmissionReview to an agent's webhook over TLS, trusting only `ca`, as kube-apiserver does with the caBundle. */
export function postReview(webhookUrl: string, ca: string, review: unknown): Promise<WebhookAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(webhookUrl, { method: 'POST', ca, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { allowed: boolean; status?: { message?: string }; warnings?: string[]; auditAnnotations?: Record<string, string> } };
          const r = body.response;
          if (res.statusCode !== 200 || !r) throw new Error(`HTTP ${res.statusCode} without an AdmissionReview response`);
          resolve({ allowed: r.allowed, ...(r.status?.message ? { message: r.status.message } : {}), warnings: r.warnings ?? [], auditAnnotations: r.auditAnnotations ?? {} });
        } catch (err) {
          reject(new Error(`${webhookUrl}: ${(err as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${webhookUrl}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(JSON.stringify(review));
  });
}
