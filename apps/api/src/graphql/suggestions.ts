import type { ApolloServerPlugin } from '@apollo/server';
import { onAnswerErrors } from './answer-errors';

// graphql-js ends a message with its guesses: ` Did you mean "policies"?`, ` Did you mean "a", "b", or "c"?`
const SUGGESTION = / ?Did you mean [^?]*\?$/;

/**
 * Strips field, type, argument and enum suggestions from every error answered, in
 * production, where introspection is off: suggestions would list the schema piece by
 * piece. `hideSchemaDetailsFromClientErrors` covers validation only; variable values
 * are coerced later (`Field "x" is not defined by type "Y". Did you mean "z"?`).
 */
export function withoutSuggestions(): ApolloServerPlugin {
  return onAnswerErrors((errors) =>
    errors.map((e) => (SUGGESTION.test(e.message) ? { ...e, message: e.message.replace(SUGGESTION, '') } : e)),
  );
}
