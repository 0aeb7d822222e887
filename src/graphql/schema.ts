import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './analyzer-schema.js';
import './arms-schema.js';
import './cache-schema.js';
import './chat-schema.js';
import './disagreement-schema.js';
import './feedback-schema.js';
import './models-schema.js';
import './objectives-schema.js';
import './shadow-schema.js';
import './warm-start-schema.js';

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL committed as schema.graphql: sorted, so that diffs show only real changes. */
export function printSortedSchema(): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
