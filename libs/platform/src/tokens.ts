/** Injection tokens of the platform providers. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const PRISMA = Symbol('PRISMA');
export const REDIS = Symbol('REDIS');
export const LOGGER = Symbol('LOGGER');
export const CLOCK = Symbol('CLOCK');

/** A clock port, so tests that need time to pass (expiry) swap only this. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
