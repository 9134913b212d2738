// libs/policy-engine: the rule catalog and evaluation. Pure and synchronous: no
// framework, no I/O. The agent enforces with it, the API validates and simulates
// with it, and `portcullis eval` runs it in CI pipelines.
export * from './types';
export * from './rules';
export * from './policy';
