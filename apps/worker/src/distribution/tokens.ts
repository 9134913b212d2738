export const BUNDLE_COMPILER = Symbol('BUNDLE_COMPILER');
