import { z } from 'zod';
import { DIGEST, imageQuery, text } from './primitives';
import { MAX_ERRORS, validateWith, type ContractError, type Validated } from './result';

export const MAX_LOOKUP_IMAGES = 200;

/** POST /agent/v1/scan-artifacts/lookup: the images of one admission (or a cache refresh). */
export const ScanArtifactLookupRequestSchema = z.object({
  images: z.array(imageQuery).min(1).max(MAX_LOOKUP_IMAGES),
});

export type ScanArtifactLookupRequest = z.infer<typeof ScanArtifactLookupRequestSchema>;

const b64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'is not base64url');

/** The shape of a signed envelope (see @portcullis/bundle); verifying it is the agent's job. */
export const SignedEnvelopeSchema = z.object({
  payload: b64url(16 * 1024 * 1024),
  signature: b64url(128),
  kid: text(128),
});

export const ScanArtifactLookupResultSchema = z
  .object({
    /** The image exactly as asked. */
    image: z.string().max(512),
    status: z.enum(['FOUND', 'NOT_FOUND']),
    /**
     * DIGEST: the image named a digest and the artifact is that digest's. TAG: the image
     * named only a tag, resolved to the newest digest reported for it (which may not be
     * what the node pulls): the agent decides how much to trust that.
     */
    resolvedBy: z.enum(['DIGEST', 'TAG']).optional(),
    /** The digest the artifact describes, when it has one. */
    digest: z.string().regex(DIGEST, 'is not a digest').optional(),
    artifact: SignedEnvelopeSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.status === 'FOUND') {
      if (!r.artifact)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['artifact'], message: 'is required when status is FOUND' });
      if (!r.resolvedBy)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['resolvedBy'],
          message: 'is required when status is FOUND',
        });
    } else if (r.artifact || r.resolvedBy || r.digest) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['status'],
        message: 'is NOT_FOUND but an artifact, resolvedBy or digest is given',
      });
    }
  });

export const ScanArtifactLookupResponseSchema = z.object({
  results: z.array(ScanArtifactLookupResultSchema).max(MAX_LOOKUP_IMAGES),
});

export type ScanArtifactLookupResult = z.infer<typeof ScanArtifactLookupResultSchema>;
export type ScanArtifactLookupResponse = z.infer<typeof ScanArtifactLookupResponseSchema>;

export const validateScanArtifactLookupRequest = (value: unknown): Validated<ScanArtifactLookupRequest> =>
  validateWith(ScanArtifactLookupRequestSchema, value);

/**
 * With the request, also checks that the answer covers exactly the images asked, in order,
 * so the agent never attributes one image's artifact to another.
 */
export function validateScanArtifactLookupResponse(
  value: unknown,
  request?: ScanArtifactLookupRequest,
): Validated<ScanArtifactLookupResponse> {
  const r = validateWith(ScanArtifactLookupResponseSchema, value);
  if (!r.ok || !request) return r;
  const errors: ContractError[] = [];
  if (r.value.results.length !== request.images.length) {
    errors.push({
      path: 'results',
      message: `has ${r.value.results.length} entries for ${request.images.length} images asked`,
    });
  }
  r.value.results.forEach((res, i) => {
    if (i < request.images.length && res.image !== request.images[i])
      errors.push({
        path: `results[${i}].image`,
        message: `is ${res.image}, but images[${i}] asked for ${request.images[i]}`,
      });
  });
  return errors.length ? { ok: false, errors: errors.slice(0, MAX_ERRORS) } : r;
}
