/** Injection token of the AuthOptions given to AuthModule.register. */
export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
