/**
 * The distribution job map and its one enqueue function, against real Redis and BullMQ:
 * what the outbox and the worker's relay put on the queue, and how the processor reads it.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  DOMAIN_EVENT_TYPES,
  RECONCILE_JOB,
  RELAY_OUTBOX_JOB,
  distributionQueue,
  enqueueDomainEvent,
  readDistributionJob,
  readDomainEventPayload,
  type DistributionQueue,
} from '@portcullis/distribution';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('distribution jobs', () => {
  let redis: Redis;
  let queue: DistributionQueue;

  before(() => {
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    // a prefix of its own: nothing else consumes what this test enqueues
    queue = distributionQueue(
      redis,
      `${process.env['REDIS_PREFIX'] ?? 'portcullis-test'}-jobs-${randomBytes(4).toString('hex')}`,
    );
  });
  after(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    redis?.disconnect();
  });

  it('enqueues a domain event as a job named by its type, with the event id, retries, backoff and retention', async () => {
    const tenantId = randomUUID();
    const scope = randomUUID();
    await enqueueDomainEvent(queue, {
      id: 41n,
      tenantId,
      type: 'policy.updated',
      payload: { policyId: 'p-1', cloudScopeIds: [scope] },
    });
    const job = await queue.getJob('event-41');
    assert.ok(job, 'the job id is the event id');
    assert.equal(job.name, 'policy.updated');
    assert.deepEqual(job.data, { policyId: 'p-1', cloudScopeIds: [scope], eventId: '41', tenantId });
    assert.equal(job.opts.attempts, 10);
    assert.deepEqual(job.opts.backoff, { type: 'exponential', delay: 500 });
    assert.equal(job.opts.removeOnComplete, 10_000);
    assert.equal(job.opts.removeOnFail, 10_000);
  });

  it('publishing the same event again adds no second job', async () => {
    const event = {
      id: 42n,
      tenantId: randomUUID(),
      type: 'cluster.registered',
      payload: { clusterId: randomUUID() },
    } as const;
    await enqueueDomainEvent(queue, event);
    await enqueueDomainEvent(queue, event);
    const jobs = await queue.getJobs(['waiting', 'delayed', 'active']);
    assert.equal(jobs.filter((j) => j.id === 'event-42').length, 1);
  });

  it('what was enqueued reads back as the job it was', async () => {
    const tenantId = randomUUID();
    await enqueueDomainEvent(queue, {
      id: 43n,
      tenantId,
      type: 'cloud-scope.deleted',
      payload: { cloudScopeId: 's', cloudScopeIds: ['s'] },
    });
    const job = (await queue.getJob('event-43'))!;
    const read = readDistributionJob(job.name, job.data);
    assert.deepEqual(read, {
      ok: true,
      value: {
        name: 'cloud-scope.deleted',
        data: { cloudScopeId: 's', cloudScopeIds: ['s'], eventId: '43', tenantId },
      },
    });
  });

  it('reads every domain event type and both scheduled jobs', () => {
    for (const type of DOMAIN_EVENT_TYPES) assert.equal(readDistributionJob(type, { tenantId: 't' }).ok, true, type);
    assert.deepEqual(readDistributionJob(RELAY_OUTBOX_JOB, {}), {
      ok: true,
      value: { name: RELAY_OUTBOX_JOB, data: {} },
    });
    assert.deepEqual(readDistributionJob(RECONCILE_JOB, {}), { ok: true, value: { name: RECONCILE_JOB, data: {} } });
  });

  it('refuses an unknown job name, naming it, instead of reading it as a recompile', () => {
    const read = readDistributionJob('policy.renamed', { tenantId: randomUUID() });
    assert.equal(read.ok, false);
    assert.match(
      (read as { reason: string }).reason,
      /^unknown distribution job "policy\.renamed": expected one of policy\.created, /,
    );
  });

  it('refuses a payload of another shape, naming the field', () => {
    const reason = (name: string, data: unknown) => {
      const read = readDistributionJob(name, data);
      assert.equal(read.ok, false, JSON.stringify(data));
      return (read as { reason: string }).reason;
    };
    assert.equal(reason('policy.created', {}), 'distribution job "policy.created": tenantId is missing');
    assert.equal(reason('policy.created', null), 'distribution job "policy.created": the payload is not an object');
    assert.equal(
      reason('policy.created', { tenantId: 't', clusterIds: ['a', 3] }),
      'distribution job "policy.created": clusterIds is not a list of strings',
    );
    assert.equal(
      reason('policy.created', { tenantId: 't', clusterId: 7 }),
      'distribution job "policy.created": clusterId is not a string',
    );
    assert.equal(
      reason('policy.created', { tenantId: 't', eventId: 7 }),
      'distribution job "policy.created": eventId is not a string',
    );
    assert.deepEqual(readDomainEventPayload([]), { ok: false, reason: 'the payload is not an object' });
  });
});
