import { z } from 'zod';

/** No U+0000 anywhere: PostgreSQL text and jsonb cannot hold it, so it is refused at the door, naming the field. */
export const NO_NUL = /^[^\u0000]*$/;
const NUL_MESSAGE = 'contains a NUL character (U+0000), which cannot be stored';

/** Bounded text, possibly empty, without NUL. */
export const plainText = (max: number) => z.string().max(max).regex(NO_NUL, NUL_MESSAGE);

/** Bounded, non-empty text: every wire string has a ceiling so one request cannot hold megabytes of it. */
export const text = (max: number) => z.string().min(1).max(max).regex(NO_NUL, NUL_MESSAGE);

// Shared by the zod schemas and the hand-written hot path, so both accept exactly the same strings.
export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** ISO-8601 / RFC 3339 with a zone (`Z` or an offset): wire timestamps are never local times. */
export const TIMESTAMP =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
export const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
export const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;
export const API_VERSION = /^(?:[a-z0-9][a-z0-9.-]*\/)?[a-z0-9]+$/;
export const RULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A subresource as AdmissionReview names it (`ephemeralcontainers`, `status`, `scale`). */
export const SUB_RESOURCE = /^[a-z0-9][a-z0-9.-]{0,62}$/;

export const uuid = z.string().regex(UUID, 'is not a UUID');

export const timestamp = z
  .string()
  .regex(TIMESTAMP, 'is not an ISO-8601 timestamp with a zone (e.g. 2025-06-01T12:00:00Z)');

/** The largest value of a PostgreSQL `integer` (int4): a larger one would be refused or wrap. */
export const INT4_MAX = 2_147_483_647;

/** Bundle revisions are stored as int4. */
export const revision = z.number().int().positive().max(INT4_MAX);

export const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A namespace (RFC 1123 label, what Kubernetes allows). */
export const namespaceName = z.string().max(63).regex(NAMESPACE, 'is not a namespace name (RFC 1123 label)');

/** Content digest as the OCI distribution spec writes it: `sha256:<64 hex>`. */
export const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,128}$/;

// The distribution reference grammar (github.com/distribution/reference regexp.go), anchored.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '\\w[\\w.-]{0,127}';
const DIGEST_PART = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
// Built once from the constants above, never from input; every repetition is separated by a character the
// next part cannot start with, so it does not backtrack (libs/contracts/test/image-reference-backtracking.spec.ts).
// eslint-disable-next-line no-restricted-syntax
export const IMAGE_REFERENCE = new RegExp(`^${NAME}(?::${TAG})?(?:@${DIGEST_PART})?$`);

/** An image as a lookup names it: a bare digest, or a reference with a tag and/or digest (`nginx`, `ghcr.io/a/b:1.2@sha256:...`). */
export const imageQuery = z
  .string()
  .min(1)
  .max(512)
  .refine((s) => DIGEST.test(s) || IMAGE_REFERENCE.test(s), 'is not an image digest or reference');

const DECIMAL = /^[0-9]{1,15}$/;

/**
 * A whole number written in decimal digits only, or undefined. For query parameters,
 * headers and settings: Number() and parseInt() read `0x10` as 16, `1e3` as 1000, ` 7 `
 * as 7, `12abc` (parseInt) as 12 and `` as 0, none of which a caller means.
 */
export function parseDecimal(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}
