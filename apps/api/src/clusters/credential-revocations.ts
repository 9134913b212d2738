import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { credentialRevocationChannel } from '@portcullis/distribution';
import { APP_CONFIG, LOGGER, REDIS, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';

/** A credential that stopped being valid: the cluster it belonged to and its token id (never the secret). */
export interface RevokedCredential {
  readonly clusterId: string;
  readonly tokenId: string;
}

/**
 * Tells every API replica that agent credentials stopped being valid, after the change is
 * committed, so the long polls they hold on them end at once. Best effort: a lost message
 * delays the end of such a poll to its own wait, and a parked poll re-checks its
 * credential before it answers, so nothing is ever delivered on a revoked credential.
 */
@Injectable()
export class CredentialRevocations {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async announce(revoked: readonly RevokedCredential[]): Promise<void> {
    if (revoked.length === 0) return;
    try {
      await this.redis.publish(
        credentialRevocationChannel(this.config.redisPrefix),
        JSON.stringify({ r: revoked.map((c) => [c.clusterId, c.tokenId]) }),
      );
    } catch (err) {
      this.logger.warn(
        { err, clusters: revoked.map((c) => c.clusterId) },
        'credential revocation not announced; parked polls end at their own wait',
      );
    }
  }
}
