import { normalizeImage } from '../image';
import type { MatchCounter, ObjectRef } from '../types';
import { matches } from './matching';
import type { Exemption, OwnerRef } from './model';

/** An exemption with its expiry parsed once. */
export interface CompiledExemption {
  readonly exemption: Exemption;
  /** Epoch ms after which it no longer applies; Infinity when it never expires. */
  readonly expiresAtMs: number;
  /** True when it takes CVEs out of the scan artifact rather than exempting findings. */
  readonly byCve: boolean;
}

const some = (list: readonly string[] | undefined): list is readonly string[] => Array.isArray(list) && list.length > 0;

export function compileExemptions(exemptions: readonly Exemption[]): CompiledExemption[] {
  return exemptions.map((exemption) => {
    const ms = exemption.expiresAt ? Date.parse(exemption.expiresAt) : Infinity;
    // an unreadable expiry must not turn into "never expires"
    return { exemption, expiresAtMs: Number.isNaN(ms) ? -Infinity : ms, byCve: some(exemption.cves) };
  });
}

/** Active at `now`: an exemption whose expiry has come (expiresAt <= now) stops applying by itself. */
export const isActive = (e: CompiledExemption, nowMs: number): boolean => e.expiresAtMs > nowMs;

/** Whether the exemption is limited to other rules than this one. */
export const coversRule = (e: Exemption, rule: string): boolean => !some(e.rules) || e.rules.includes(rule);

/** The forms an image is matched in: as written, normalised, registry, repository (with and without registry), digest. */
function imageForms(image: string): string[] {
  const ref = normalizeImage(image);
  if (!ref) return [image];
  return [
    image,
    ref.normalized,
    ref.registry,
    `${ref.registry}/${ref.repository}`,
    ref.repository,
    ...(ref.digest ? [ref.digest] : []),
  ];
}

/**
 * Whether an exemption's object criteria hold: every criterion given must match
 * (AND), any value within one criterion may (OR). Kinds and names also match the
 * owning workload, so exempting Deployment "web" covers the pods it creates.
 * `images` are the images the finding is about: all of them must be exempted.
 */
export function coversObject(
  e: Exemption,
  ref: ObjectRef,
  owner: OwnerRef | undefined,
  images: readonly string[],
  counter?: MatchCounter,
): boolean {
  if (some(e.namespaces) && !e.namespaces.some((p) => matches(e.match, p, ref.namespace ?? '', counter))) return false;
  if (some(e.kinds) && !e.kinds.some((k) => k === ref.kind || k === owner?.kind)) return false;
  if (
    some(e.names) &&
    !e.names.some(
      (p) =>
        matches(e.match, p, ref.name, counter) || (owner !== undefined && matches(e.match, p, owner.name, counter)),
    )
  )
    return false;
  if (some(e.images)) {
    if (images.length === 0) return false;
    const patterns = e.images;
    if (
      !images.every((img) => imageForms(img).some((form) => patterns.some((p) => matches(e.match, p, form, counter))))
    )
      return false;
  }
  if (e.labelSelector) {
    for (const [k, v] of Object.entries(e.labelSelector)) if (ref.labels[k] !== v) return false;
  }
  return true;
}
