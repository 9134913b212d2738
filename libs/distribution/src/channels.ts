/** Redis pub/sub channel announcing stored revisions: `{"c":[[clusterId, revision], ...]}`. */
export const bundleChannel = (redisPrefix: string) => `${redisPrefix}:bundles:published`;

/** BullMQ queue the API's outbox publishes to and the worker's distribution processor consumes. */
export const DISTRIBUTION_QUEUE = 'distribution';
