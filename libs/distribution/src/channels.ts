/** Redis pub/sub channel announcing stored revisions: `{"c":[[clusterId, revision], ...]}`. */
export const bundleChannel = (redisPrefix: string) => `${redisPrefix}:bundles:published`;

/**
 * Redis pub/sub channel announcing agent credentials that stopped being valid (rotated, or
 * their cluster deleted): `{"r":[[clusterId, tokenId], ...]}`. Every API replica ends the
 * long polls it holds on those credentials. Token ids only, never secrets.
 */
export const credentialRevocationChannel = (redisPrefix: string) => `${redisPrefix}:agent-credentials:revoked`;

/** BullMQ queue the API's outbox publishes to and the worker's distribution processor consumes. */
export const DISTRIBUTION_QUEUE = 'distribution';
