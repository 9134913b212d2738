// Exemptions as CEL, with the engine's semantics (libs/policy-engine policy/exemptions.ts):
// every criterion given must hold, any value of one criterion may; kinds and names also
// match the owning workload; images are matched in every form and all of a finding's
// images must be exempted; subjects longer than the matcher accepts match nothing.
import { MAX_SUBJECT_LENGTH, type Exemption, type MatchMode } from '@portcullis/policy-engine';
import { and, bindBool, globToRe2, or, str } from './cel';
import { imageFormsExpr } from './image';
import { NAME_EXPR, NAMESPACE_EXPR, ownerExpr } from './targets';

/** `subject` (a CEL string) matches `pattern` the way `mode` says. */
export function matchExpr(mode: MatchMode, pattern: string, subject: string): string {
  const op = (() => {
    switch (mode) {
      case 'EQUALS':
        return `${subject} == ${str(pattern)}`;
      case 'PREFIX':
        return `${subject}.startsWith(${str(pattern)})`;
      case 'SUFFIX':
        return `${subject}.endsWith(${str(pattern)})`;
      case 'CONTAINS':
        return `${subject}.contains(${str(pattern)})`;
      case 'GLOB':
        return `${subject}.matches(${str(globToRe2(pattern))})`;
    }
  })();
  return `(size(${subject}) <= ${MAX_SUBJECT_LENGTH} && ${op})`;
}

const some = (list: readonly string[] | undefined): list is readonly string[] => Array.isArray(list) && list.length > 0;

/** Whether an exemption names images: then it depends on the finding, and is checked inside the rule's expressions. */
export const namesImages = (e: Exemption): boolean => some(e.images);

/**
 * CEL bool: the exemption covers the object (namespace, kind, name, labels). `images`, when
 * the exemption names images, is the CEL list of the finding's images.
 */
export function coversExpr(e: Exemption, images?: string): string {
  const terms: string[] = [];
  const usesOwner = some(e.kinds) || some(e.names);
  if (some(e.namespaces)) terms.push(or(e.namespaces.map((p) => matchExpr(e.match, p, NAMESPACE_EXPR))));
  if (some(e.kinds)) terms.push(or(e.kinds.map((k) => `(object.kind == ${str(k)} || owner[0] == ${str(k)})`)));
  if (some(e.names))
    terms.push(or(e.names.map((p) => `(${matchExpr(e.match, p, NAME_EXPR)} || ${matchExpr(e.match, p, 'owner[1]')})`)));
  if (some(e.images)) {
    const patterns = e.images;
    const list = `(${images ?? '[]'})`;
    terms.push(
      `(size(${list}) > 0 && ${list}.all(i, ${imageFormsExpr('i', 'E')}.exists(f, ${or(patterns.map((p) => matchExpr(e.match, p, 'f')))})))`,
    );
  }
  if (e.labelSelector)
    for (const [k, v] of Object.entries(e.labelSelector))
      terms.push(
        `(has(object.metadata.labels) && ${str(k)} in object.metadata.labels && object.metadata.labels[${str(k)}] == ${str(v)})`,
      );
  const body = and(terms);
  return usesOwner ? bindBool('owner', ownerExpr(), body) : body;
}
