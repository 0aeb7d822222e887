import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Generates typed operations (`npm run codegen`) from the committed schema.graphql: the Node client
 * from src/client/operations, the web console's from console/operations (as plain strings, so the
 * browser bundle needs no GraphQL library). `npm test` fails when either output is stale.
 */
const shared = {
  preset: 'client',
  presetConfig: { fragmentMasking: false },
} as const;
const types = { useTypeImports: true, enumsAsTypes: true, scalars: { ID: 'string' } };

const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: false,
  generates: {
    'src/client/generated/': { ...shared, documents: ['src/client/operations/*.graphql'], config: types },
    'console/generated/': {
      ...shared,
      documents: ['console/operations/*.graphql'],
      config: { ...types, documentMode: 'string' },
    },
  },
  importExtension: '.js',
  hooks: {},
};

export default config;
