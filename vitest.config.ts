import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for the
    // dependencies vitest leaves to Node (graphql-yoga, graphql-ws); Vite would pick the ESM one for
    // our sources. Two copies break `instanceof GraphQLError`, so everything uses Node's choice.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/build-console-setup.ts', 'test/helpers/build-client-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only add contention for the real servers the tests start.
    maxWorkers: 2,
    // One worker process runs many files: a fresh module graph per file cost about a second of
    // imports for every file that loads the app. So no file may leave anything behind: spies and
    // stubs are undone after each test here, fake timers by the file that installs them, and no
    // poll, timer or server may outlive its test (a fake-timer file counts every timer in the process).
    isolate: false,
    restoreMocks: true,
    unstubGlobals: true,
    unstubEnvs: true,
  },
});
