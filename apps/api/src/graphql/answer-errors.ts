import type { ApolloServerPlugin, GraphQLResponse } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';

/**
 * A plugin that sees the errors of every answer just before it is sent (single answers; the
 * API serves no incremental delivery), with the answer's HTTP part, and may replace them.
 */
export function onAnswerErrors(
  edit: (
    errors: readonly GraphQLFormattedError[],
    http: GraphQLResponse['http'],
  ) => readonly GraphQLFormattedError[] | void,
): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          if (!errors?.length) return;
          const replaced = edit(errors, response.http);
          if (replaced) response.body.singleResult.errors = replaced;
        },
      };
    },
  };
}
