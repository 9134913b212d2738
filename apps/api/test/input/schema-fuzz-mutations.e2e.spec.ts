// Schema-driven fuzzing of every mutation's arguments: see schema-fuzz.ts.
import { describeSchemaFuzz } from './schema-fuzz';

describeSchemaFuzz('mutation');
