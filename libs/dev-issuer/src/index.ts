export { DevIssuer, mintToken } from './issuer';
export type { MintOptions } from './issuer';
export { loadOrCreateState, readCaCertificate, keyId } from './state';
export type { IssuerState } from './state';

import { DevIssuer } from './issuer';

/** What `npm start` runs in development: the issuer on its configured port. */
export async function startDevIssuer(options: { port: number; stateDir: string }): Promise<DevIssuer> {
  const issuer = new DevIssuer(options);
  await issuer.start({ port: options.port });
  return issuer;
}
