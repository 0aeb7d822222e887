import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

// Root types live here so every domain file can add fields with queryFields/mutationFields/subscriptionFields.
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
