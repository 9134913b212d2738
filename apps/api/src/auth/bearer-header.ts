/**
 * The credential of an `Authorization: Bearer <credential>` header, read the same way for
 * user tokens, agent credentials and scan upload tokens: `undefined` when there is no
 * header, `null` when it is not exactly a scheme and one credential (the scheme is
 * case-insensitive, as RFC 9110 says). Each caller words its own refusal.
 */
export function bearerCredentialOf(header: unknown): string | null | undefined {
  if (header === undefined || header === '') return undefined;
  const parts = typeof header === 'string' ? header.split(' ') : [];
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'bearer' || parts[1] === '') return null;
  return parts[1];
}
