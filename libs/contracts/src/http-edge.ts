/**
 * What the API and the agent both do at their HTTP edge. Neither serves a page: nothing they
 * answer is to be sniffed, framed or referred from.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * How often Node checks a server's header and request deadlines (`connectionsCheckingInterval`,
 * 30 s by default): a quarter of the shorter deadline, between 25 ms and 1 s, so a client
 * trickling bytes is cut close to its deadline.
 */
export function deadlineCheckInterval(headersTimeoutMs: number, requestTimeoutMs: number): number {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)));
}
