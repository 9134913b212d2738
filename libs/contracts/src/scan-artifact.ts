import { ScanArtifactDocumentSchema, type ScanArtifactDocument } from '@portcullis/bundle';
import { validateWith, type Validated } from './result';

/**
 * The signed scan artifact document is defined with the other signed documents in
 * @portcullis/bundle (the agent verifies it there); this is the same schema, with
 * contract-style errors, for the API's ingestion path.
 */
export { ScanArtifactDocumentSchema };
export type { ScanArtifactDocument, ScanFinding, Severity } from '@portcullis/bundle';

export const validateScanArtifactDocument = (value: unknown): Validated<ScanArtifactDocument> =>
  validateWith(ScanArtifactDocumentSchema, value);
