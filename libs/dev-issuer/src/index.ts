// The local development OpenID issuer (Entra ID-shaped) and token minting. Refused in production.
export { DevIssuer, startDevIssuer } from './issuer';
export type { DevIssuerOptions } from './issuer';
export { mintToken, issuerBaseUrl, issuerFor } from './token';
export type { MintOptions, SigningMaterial } from './token';
export {
  DevIssuerRefusedError,
  defaultStateDir,
  keyId,
  loadOrCreateState,
  readCaCertificate,
  refuseInProduction,
} from './state';
export type { IssuerState } from './state';
export { createTlsMaterial } from './certificates';
export type { TlsMaterial, TlsMaterialOptions } from './certificates';
