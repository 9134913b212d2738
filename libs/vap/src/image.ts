// The engine's image normalisation (libs/policy-engine src/image.ts) as CEL: registry
// detection, docker.io and library/ defaults, :latest when neither tag nor digest, and the
// same validity checks (an invalid reference is only ever matched as written).
import { bind, str } from './cel';

/** JavaScript's `\s`, spelled for RE2 (whose `\s` is ASCII whitespace only). */
const WHITESPACE =
  '[\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]';
const DIGEST = '^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$';
const TAG = '^[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}$';
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH = `^${COMPONENT}(?:/${COMPONENT})*$`;
const HOST =
  '(?i)^(?:\\[[0-9a-f:.]+\\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::[0-9]{1,5})?$';

export interface ImageParts {
  /** CEL bool: the reference is valid (normalizeImage would return a value). */
  readonly valid: string;
  readonly normalized: string;
  readonly registry: string;
  readonly repository: string;
  readonly hasDigest: string;
  readonly digest: string;
}

/**
 * CEL that binds the parts of image reference `x` (a CEL string expression, evaluated once)
 * and evaluates `body` with them. Names are suffixed with `n` so nested uses do not clash.
 */
export function withImageParts(x: string, n: string, body: (p: ImageParts) => string): string {
  const v = (name: string) => `${name}${n}`;
  const [img, at, rest, co, name, tag, slash, first, hasReg, reg0, reg, path, dig] = [
    'img',
    'at',
    'rest',
    'co',
    'name',
    'tag',
    'sl',
    'first',
    'hr',
    'reg0',
    'reg',
    'path',
    'dig',
  ].map(v) as [string, string, string, string, string, string, string, string, string, string, string, string, string];
  // every intermediate value is bound once: string functions cost by length in Kubernetes' cost model
  const repository = `(${reg} == 'docker.io' && !${path}.contains('/') ? 'library/' + ${path} : ${path})`;
  const valid = `(size(${img}) > 0 && size(${img}) <= 4096 && !${img}.matches(${str(WHITESPACE)}) && (${at} < 0 || ${dig}.matches(${str(DIGEST)})) && (${co} < 0 || ${tag}.matches(${str(TAG)})) && (!${hasReg} || ${reg0}.matches(${str(HOST)})) && ${path}.matches(${str(PATH)}))`;
  const normalized = `(${reg} + '/' + ${repository} + (${co} >= 0 ? ':' + ${tag} : '') + (${at} >= 0 ? '@' + ${dig} : '') + (${co} < 0 && ${at} < 0 ? ':latest' : ''))`;
  const parts: ImageParts = { valid, normalized, registry: reg, repository, hasDigest: `${at} >= 0`, digest: dig };
  const steps: Array<[string, string]> = [
    [img, x],
    [at, `${img}.indexOf('@')`],
    [rest, `${at} >= 0 ? ${img}.substring(0, ${at}) : ${img}`],
    [dig, `${at} >= 0 ? ${img}.substring(${at} + 1) : ''`],
    [co, `[${rest}.lastIndexOf(':')].map(c, c > ${rest}.lastIndexOf('/') ? c : -1)[0]`],
    [name, `${co} >= 0 ? ${rest}.substring(0, ${co}) : ${rest}`],
    [tag, `${co} >= 0 ? ${rest}.substring(${co} + 1) : ''`],
    [slash, `${name}.indexOf('/')`],
    [first, `${slash} >= 0 ? ${name}.substring(0, ${slash}) : ''`],
    [hasReg, `${slash} >= 0 && (${first}.contains('.') || ${first}.contains(':') || ${first} == 'localhost')`],
    [reg0, `${hasReg} ? ${first}.lowerAscii() : 'docker.io'`],
    [reg, `${reg0} == 'index.docker.io' || ${reg0} == 'registry-1.docker.io' ? 'docker.io' : ${reg0}`],
    [path, `${hasReg} ? ${name}.substring(${slash} + 1) : ${name}`],
  ];
  return steps.reduceRight((inner, [variable, value]) => bind(variable, value, inner), body(parts));
}

/** CEL list of the forms an exemption matches an image in: as written, normalised, registry, registry/repository, repository, digest. */
export function imageFormsExpr(x: string, n: string): string {
  return withImageParts(
    x,
    n,
    (p) =>
      `${p.valid} ? [img${n}, ${p.normalized}, ${p.registry}, ${p.registry} + '/' + ${p.repository}, ${p.repository}] + (${p.hasDigest} ? [${p.digest}] : []) : [img${n}]`,
  );
}

/** CEL list: the image as written and its normalised form (as written twice when invalid). */
export function imageAndNormalizedExpr(x: string, n: string): string {
  return withImageParts(x, n, (p) => `[img${n}, ${p.valid} ? ${p.normalized} : img${n}]`);
}
