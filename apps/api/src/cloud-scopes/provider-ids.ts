import type { CloudProvider } from '@portcullis/db';

/**
 * Provider account ids as the clouds define them. Azure GUIDs are compared
 * lower-case (the portal shows either case).
 */
const FORMATS: Record<CloudProvider, { readonly pattern: RegExp; readonly describe: string }> = {
  AZURE_SUBSCRIPTION: {
    pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    describe: 'an Azure subscription id is a GUID such as 0b1f6471-1bf0-4dda-aec3-cb9272f09590',
  },
  AWS_ACCOUNT: { pattern: /^[0-9]{12}$/, describe: 'an AWS account id is exactly 12 digits' },
  GCP_PROJECT: {
    pattern: /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
    describe:
      'a GCP project id is 6-30 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen',
  },
};

export function normalizeProviderId(
  provider: CloudProvider,
  externalId: string,
): { ok: true; id: string } | { ok: false; message: string } {
  const id = provider === 'AZURE_SUBSCRIPTION' ? externalId.trim().toLowerCase() : externalId.trim();
  const format = FORMATS[provider];
  return format.pattern.test(id)
    ? { ok: true, id }
    : { ok: false, message: `"${externalId.slice(0, 64)}" is not valid: ${format.describe}` };
}
