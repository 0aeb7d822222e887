import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Generates the typed client (`npm run codegen`) from the committed schema.graphql and the
 * operations under src/client/operations. `npm test` fails when the output is stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/client/operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'src/client/generated/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        // persisted-documents.json maps each operation's hash to its text: the manifest a gateway
        // running with server.trustedDocuments accepts; documents keep their text and carry the hash.
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
      },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { ID: 'string' } },
    },
  },
  importExtension: '.js',
  hooks: {},
};

export default config;
