import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ArmsDocument, ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, isSwitchyardError } from '../../src/client/switchyard-client.js';
import { ConfigError } from '../../src/config/load-config.js';
import { postGraphQL, startGateway, subscribeSse, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * server.trustedDocuments with the manifest codegen writes: ids run on every transport, text is
 * refused on every transport (or let through when allowArbitraryOperations says so).
 */

const MANIFEST = 'src/client/generated/persisted-documents.json';
const idOf = (document: unknown) => (document as { __meta__: { hash: string } }).__meta__.hash;
const chatVariables = { input: { messages: [{ role: 'USER', content: 'trusted, please' }], cache: false } };

async function post(url: string, body: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { data?: { arms?: unknown[] }; errors?: Array<{ extensions?: { code?: string } }> };
}

/**
 * Apollo Client with automatic persisted queries: it sends the hash alone, and on
 * PERSISTED_QUERY_NOT_FOUND the hash with the text. Returns the arms and every body it posted.
 */
async function apolloPersistedArms(url: string): Promise<{ arms: unknown[]; bodies: Array<Record<string, unknown>> }> {
  const bodies: Array<Record<string, unknown>> = [];
  const recording: typeof fetch = (input, init) => {
    bodies.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
    return fetch(input, init);
  };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const client = new ApolloClient({
    link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, fetch: recording })),
    cache: new InMemoryCache(),
  });
  try {
    const { data, error } = await client.query({ query: ArmsDocument, fetchPolicy: 'network-only' });
    if (error) throw error;
    return { arms: data!.arms, bodies };
  } finally {
    client.stop();
  }
}

const codeOf = (result: unknown) =>
  (result as { errors?: ReadonlyArray<{ extensions?: { code?: unknown } }> }).errors?.[0]?.extensions?.code;

describe('trusted documents only', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ server: { trustedDocuments: { manifest: MANIFEST } } }) });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('the manifest is the one codegen writes, and every generated document has an id in it', () => {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    expect(manifest[idOf(ChatDocument)]).toMatch(/^subscription Chat\b/);
    expect(manifest[idOf(ArmsDocument)]).toMatch(/^fragment ArmFields|query Arms/);
  });

  it('the typed client streams a chat and reads arms by id over WebSocket', async () => {
    const client = createSwitchyardClient({ url: gateway.wsUrl, persistedDocuments: true });
    try {
      const types: string[] = [];
      for await (const event of client.chat({ messages: [{ role: 'USER', content: 'trusted, please' }], cache: false })) types.push(event.__typename);
      expect(types[0]).toBe('ChatRoute');
      expect(types.at(-1)).toBe('ChatDone');
      expect(await client.arms()).toHaveLength(4);
    } finally {
      await client.dispose();
    }
  });

  it('runs an id over HTTP, as documentId (POST or GET) or as Apollo persisted-query hash', async () => {
    expect((await post(gateway.url, { documentId: idOf(ArmsDocument) })).data?.arms).toHaveLength(4);
    const sha256Hash = idOf(ArmsDocument).replace(/^sha256:/, '');
    const apq = await post(gateway.url, { extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect(apq.data?.arms).toHaveLength(4);
    const get = await fetch(`${gateway.url}?documentId=${encodeURIComponent(idOf(ArmsDocument))}`);
    expect(((await get.json()) as { data?: { arms?: unknown[] } }).data?.arms).toHaveLength(4);
  });

  it('streams an id over SSE, distinct and single connection', async () => {
    const distinct = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ documentId: idOf(ChatDocument), variables: chatVariables }),
    });
    const stream = await distinct.text();
    expect(stream).toContain('"__typename":"ChatRoute"');
    expect(stream).toContain('"__typename":"ChatDone"');
    expect(stream).toContain('event: complete');

    const client = createSseClient({ url: gateway.url, singleConnection: true, retryAttempts: 0 });
    try {
      const types: string[] = [];
      for await (const result of client.iterate<ChatSubscription>({
        query: '',
        variables: chatVariables,
        extensions: { persistedQuery: { version: 1, sha256Hash: idOf(ChatDocument) } },
      })) {
        types.push(result.data!.chat.__typename);
      }
      expect(types.at(-1)).toBe('ChatDone');
    } finally {
      client.dispose();
    }
  });

  it('refuses operation text on every transport with PERSISTED_QUERY_REQUIRED', async () => {
    expect(codeOf(await postGraphQL(gateway.url, '{ arms { id } }'))).toBe('PERSISTED_QUERY_REQUIRED');

    const sse = await subscribeSse(gateway.url, print(ChatDocument), chatVariables);
    expect(sse).toHaveLength(1);
    expect(codeOf(sse[0] as unknown)).toBe('PERSISTED_QUERY_REQUIRED');

    const multipart = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec=1.0,application/json' },
      body: JSON.stringify({ query: print(ChatDocument), variables: chatVariables }),
    });
    expect(codeOf((await multipart.json()) as unknown)).toBe('PERSISTED_QUERY_REQUIRED');

    const ws = createWsClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const refused = await (async () => {
        for await (const _ of ws.iterate({ query: print(ChatDocument), variables: chatVariables })) return 'ran';
        return 'completed';
      })().catch((errors: unknown) => errors);
      expect(refused).toMatchObject([{ extensions: { code: 'PERSISTED_QUERY_REQUIRED' } }]);
    } finally {
      await ws.dispose();
    }

    const single = createSseClient({ url: gateway.url, singleConnection: true, retryAttempts: 0 });
    try {
      const results = [];
      for await (const result of single.iterate({ query: '{ arms { id } }' })) results.push(result);
      expect(codeOf(results[0]!)).toBe('PERSISTED_QUERY_REQUIRED');
    } finally {
      single.dispose();
    }

    // The typed client sending text gets the code as a typed error.
    const error = await gateway.client.request(ArmsDocument, {}).catch((e: unknown) => e);
    expect(isSwitchyardError(error, 'PERSISTED_QUERY_REQUIRED')).toBe(true);
  });

  it('refuses an unknown id with PERSISTED_QUERY_NOT_FOUND, even sent with operation text', async () => {
    expect(codeOf(await post(gateway.url, { documentId: 'sha256:0000' }))).toBe('PERSISTED_QUERY_NOT_FOUND');
    const persisted = { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } };
    expect(codeOf(await post(gateway.url, { query: '{ arms { id } }', ...persisted }))).toBe('PERSISTED_QUERY_NOT_FOUND');
  });
});

describe('trusted documents with arbitrary operations allowed', () => {
  it('runs ids and text alike', async () => {
    const gateway = await startGateway({
      config: testConfigInput({ server: { trustedDocuments: { manifest: MANIFEST, allowArbitraryOperations: true } } }),
    });
    try {
      expect((await post(gateway.url, { documentId: idOf(ArmsDocument) })).data?.arms).toHaveLength(4);
      expect((await postGraphQL(gateway.url, '{ arms { id } }')).data?.arms).toHaveLength(4);
      // A hash the manifest lacks, sent again with its text, runs the text.
      const text = '{ arms { id } }';
      const withText = await post(gateway.url, { query: text, extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
      expect(withText.data?.arms).toHaveLength(4);
    } finally {
      await gateway.close();
    }
  });
});

describe('without trusted documents', () => {
  it('an id names nothing, and the error says the option is off', async () => {
    const gateway = await startGateway();
    try {
      const result = await post(gateway.url, { documentId: idOf(ArmsDocument) });
      expect(codeOf(result)).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(JSON.stringify(result)).toMatch(/server\.trustedDocuments/);
    } finally {
      await gateway.close();
    }
  });

  it("serves Apollo's automatic persisted queries: the hash alone is not found, the hash with its text runs", async () => {
    const gateway = await startGateway();
    try {
      const { arms, bodies } = await apolloPersistedArms(gateway.url);
      expect(arms).toHaveLength(4);
      expect(bodies).toHaveLength(2);
      expect(bodies[0]).not.toHaveProperty('query');
      expect(bodies[1]).toMatchObject({ query: expect.stringContaining('arms'), extensions: { persistedQuery: { version: 1 } } });
    } finally {
      await gateway.close();
    }
  });

  it('a manifest that cannot be read stops start-up with a configuration error', async () => {
    const starting = startGateway({ config: testConfigInput({ server: { trustedDocuments: { manifest: 'nope.json' } } }) });
    await expect(starting).rejects.toBeInstanceOf(ConfigError);
    await expect(starting).rejects.toThrow(/server\.trustedDocuments\.manifest: cannot read nope\.json/);
  });
});
