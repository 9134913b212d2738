/** The demo's GraphQL calls: one bearer token, errors named with the operation and the API's code. */
export class DemoApiError extends Error {}

export class GraphqlClient {
  constructor(
    readonly apiUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(what: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response | undefined;
    for (let attempt = 1; !res; attempt++) {
      try {
        res = await fetch(`${this.apiUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (err) {
        // a kept-alive connection the API closed while idle (HTTP_KEEP_ALIVE_TIMEOUT_MS) fails
        // before the request is sent: that one is sent again on a new connection
        const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
        if (attempt === 1 && code === 'UND_ERR_SOCKET') continue;
        throw new DemoApiError(`${what}: the API at ${this.apiUrl} does not answer (${causeOf(err)})`);
      }
    }
    const text = await res.text();
    let body: { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new DemoApiError(`${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (body.errors?.length)
      throw new DemoApiError(
        `${what}: ${body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ')}`,
      );
    if (!body.data) throw new DemoApiError(`${what}: HTTP ${res.status} without data`);
    return body.data;
  }
}

/** Fails with a clear line when nothing answers at the API URL: the stack is started with `npm start`. */
export async function checkApiReady(apiUrl: string): Promise<void> {
  let status: number;
  try {
    const res = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    status = res.status;
  } catch (err) {
    throw new DemoApiError(
      `the API at ${apiUrl} does not answer (${causeOf(err)}); start it with \`npm start\`, or point --api / PORTCULLIS_API at it`,
    );
  }
  if (status !== 200)
    throw new DemoApiError(
      `the API at ${apiUrl} is not ready (/readyz answered ${status}): are PostgreSQL and Redis up?`,
    );
}

/** fetch fails with "fetch failed"; what failed is its cause (ECONNREFUSED, a reset...). */
function causeOf(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
}
