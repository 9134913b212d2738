// Schema-driven fuzzing of every query's arguments: see schema-fuzz.ts.
import { describeSchemaFuzz } from './schema-fuzz';

describeSchemaFuzz('query');
