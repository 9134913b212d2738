import { Client, type ClientConfig } from 'pg';

type QueryCallback = (err: Error | null, result?: unknown) => void;

/**
 * A pg Client that runs the statements given to it one after another: a call made while
 * another statement is running waits for it here, in call order, instead of in pg's own
 * queue. Prisma's query interpreter issues a transaction's independent reads at once on
 * the transaction's one connection; pg ran them in order anyway, but queueing a query on a
 * busy client is deprecated (removed in pg 9) and printed a DeprecationWarning. What runs,
 * and in which order, is unchanged: pg never pipelines statements on one connection.
 * Submittables (cursors, COPY streams) go straight to pg; Prisma sends none.
 */
export class SerialClient extends Client {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(config?: string | ClientConfig) {
    super(config);
    const query = Client.prototype.query.bind(this) as (...args: unknown[]) => unknown;
    (this as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as { submit?: unknown } | null | undefined;
      if (first && typeof first === 'object' && typeof first.submit === 'function') return query(...args);
      const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as QueryCallback) : undefined;
      const run = () => query(...args) as Promise<unknown>;
      const result = this.tail.then(run, run);
      this.tail = result.then(
        () => undefined,
        () => undefined,
      );
      if (!callback) return result;
      result.then(
        (res) => callback(null, res),
        (err: Error) => callback(err),
      );
      return undefined;
    };
  }
}
