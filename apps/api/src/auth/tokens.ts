export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
