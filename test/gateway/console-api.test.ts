import { randomUUID } from 'node:crypto';
import { buildSchema, parse, validate, visit, type FieldNode, type InlineFragmentNode } from 'graphql';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArmsInContextDocument,
  ChatDocument,
  RecentRequestsDocument,
  SubmitFeedbackDocument,
  type ChatSubscription,
} from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, SwitchyardError, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { graphiqlDocument } from '../../src/server/graphiql-document.js';
import { SESSION_HEADER } from '../../src/server/request-session.js';
import { postGraphQL, startGateway, type RunningGateway } from '../helpers/gateway.js';

/** What the console and normalised client caches need from the API. */

type ChatEvent = ChatSubscription['chat'];

async function chat(client: SwitchyardClient, content: string, tags?: string[]): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const result of client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content }], tags, cache: false },
  })) {
    expect(result.errors).toBeUndefined();
    events.push(result.data!.chat);
  }
  return events;
}

const requestIdOf = (events: ChatEvent[]) => (events[0]!.__typename === 'ChatRoute' ? events[0]!.requestId : '');

const decimals = (value: number) => (String(value).split('.')[1] ?? '').length;

describe('per-context arm figures, feedback context and rounding', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('keys each arm per context and reports the context of feedback', async () => {
    const events = await chat(gateway.client, 'Write a haiku about routers.', ['poetry']);
    const route = events[0]!;
    if (route.__typename !== 'ChatRoute') throw new Error('no route');
    expect(route.context).toBe('poetry');

    const inPoetry = (await gateway.client.request(ArmsInContextDocument, { context: 'poetry' })).armsInContext;
    const overall = (await gateway.client.request(ArmsInContextDocument, {})).armsInContext;
    expect(inPoetry.map((a) => a.id)).toEqual(gateway.config.arms.map((arm) => `${arm.id}@poetry`));
    expect(overall.map((a) => a.id)).toEqual(gateway.config.arms.map((arm) => `${arm.id}@*`));
    expect(inPoetry.every((a) => a.context === 'poetry')).toBe(true);
    expect(inPoetry.map((a) => a.arm.id)).toEqual(overall.map((a) => a.arm.id));

    const result = (await gateway.client.request(SubmitFeedbackDocument, { input: { requestId: route.requestId, feedbackToken: route.feedbackToken, thumbs: UP } }))
      .submitFeedback;
    expect(result.context).toBe('poetry');
    expect(result.armInContext.id).toBe(`${route.arm}@poetry`);
    const before = inPoetry.find((a) => a.arm.id === route.arm)!;
    expect(result.armInContext.posterior.alpha).toBeGreaterThan(before.posterior.alpha);
    // The figures agree with what the router holds for that arm in that context.
    const held = gateway.app.services.router.arm(route.arm, 'poetry')!;
    expect(result.armInContext.posterior.alpha).toBe(held.posterior.alpha);
    expect(result.armInContext.pulls).toBe(held.pulls);
  });

  it('opens GraphiQL with a chat and a feedback mutation', async () => {
    const html = await (await fetch(gateway.url, { headers: { accept: 'text/html' } })).text();
    expect(html).toMatch(/subscription Chat/);
    expect(html).toMatch(/mutation Feedback/);
  });

  it('rounds figures whose further digits are noise, and leaves posterior parameters exact', async () => {
    const events = await chat(gateway.client, 'How long did this take?');
    const done = events.at(-1)!;
    if (done.__typename !== 'ChatDone') throw new Error('no done');
    expect(decimals(done.metrics.latencyMs)).toBeLessThanOrEqual(2);
    expect(decimals(done.metrics.costUsd)).toBeLessThanOrEqual(17);
    expect(done.metrics.costUsd).toBe(Number(done.metrics.costUsd.toPrecision(12)));
    const arms = (await gateway.client.request(ArmsInContextDocument, {})).armsInContext;
    for (const arm of arms) {
      for (const value of [arm.posterior.mean, arm.posterior.lower95, arm.posterior.upper95]) {
        expect(decimals(value)).toBeLessThanOrEqual(4);
      }
      expect(decimals(arm.probabilityBest)).toBeLessThanOrEqual(3);
      const held = gateway.app.services.router.arm(arm.arm.id)!;
      expect(arm.posterior.alpha).toBe(held.posterior.alpha);
      expect(Math.abs(arm.posterior.mean - held.posterior.mean)).toBeLessThanOrEqual(5e-5);
    }
  });
});

const UP = 'UP' as const;

describe('recentRequests lists the caller’s own requests', () => {
  let gateway: RunningGateway;
  const clients: SwitchyardClient[] = [];
  const connect = (session?: string) => {
    const client = createSwitchyardClient({ url: gateway.wsUrl, ...(session ? { connectionParams: { session } } : {}) });
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await gateway?.close();
  });

  it('per WebSocket connection without a session, newest first', async () => {
    const alice = connect();
    const bob = connect();
    // Keep both sockets open across operations: the connection is the owner.
    const keepOpen = [alice, bob].map((c) => c.ws.subscribe({ query: 'subscription { metrics(intervalMs: 3600000) { regret } }' }, { next: () => {}, error: () => {}, complete: () => {} }));
    const first = requestIdOf(await chat(alice, 'Alice asks one thing.'));
    const second = requestIdOf(await chat(alice, 'Alice asks another.'));
    const bobs = requestIdOf(await chat(bob, 'Bob asks.'));

    const aliceSees = (await alice.request(RecentRequestsDocument, {})).recentRequests;
    expect(aliceSees.map((r) => r.id)).toEqual([second, first]);
    expect(aliceSees[0]).toMatchObject({ status: 'COMPLETED', cached: false });
    const bobSees = (await bob.request(RecentRequestsDocument, { limit: 5 })).recentRequests;
    expect(bobSees.map((r) => r.id)).toEqual([bobs]);
    expect((await alice.request(RecentRequestsDocument, { limit: 1 })).recentRequests.map((r) => r.id)).toEqual([second]);
    keepOpen.forEach((stop) => stop());
  });

  it('per named session, across connections and over HTTP', async () => {
    const session = randomUUID();
    const id = requestIdOf(await chat(connect(session), 'Asked in a session.'));
    const later = connect(session);
    expect((await later.request(RecentRequestsDocument, {})).recentRequests.map((r) => r.id)).toEqual([id]);

    const overHttp = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SESSION_HEADER]: session },
      body: JSON.stringify({ query: '{ recentRequests { id } }' }),
    });
    expect(((await overHttp.json()) as { data: { recentRequests: Array<{ id: string }> } }).data.recentRequests).toEqual([
      { id },
    ]);
    // Without a session an HTTP caller owns nothing, so it sees nothing.
    expect((await postGraphQL(gateway.url, '{ recentRequests { id } }')).data).toEqual({ recentRequests: [] });
    // Someone else's session sees none of it.
    expect((await connect(randomUUID()).request(RecentRequestsDocument, {})).recentRequests).toEqual([]);
  });

  it('refuses a limit out of range with a code', async () => {
    const error = await connect()
      .request(RecentRequestsDocument, { limit: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchyardError);
    expect((error as SwitchyardError).errors[0]!.extensions?.code).toBe('LIMIT_OUT_OF_RANGE');
  });
});

describe("GraphiQL's default document", () => {
  const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));

  it('is valid, asks for requestId on every chat event and varies its prompt', () => {
    const document = parse(graphiqlDocument());
    expect(validate(schema, document)).toEqual([]);
    const chatEventTypes = ['ChatRoute', 'ChatChunk', 'ChatDone', 'ChatError'];
    const seen: string[] = [];
    visit(document, {
      InlineFragment(node: InlineFragmentNode) {
        const type = node.typeCondition?.name.value ?? '';
        if (!chatEventTypes.includes(type)) return;
        seen.push(type);
        const fields = node.selectionSet.selections.map((s) => (s as FieldNode).name.value);
        expect(fields, type).toContain('requestId');
      },
    });
    expect(seen.sort()).toEqual([...chatEventTypes].sort());
    expect(graphiqlDocument()).toMatch(/submitFeedback/);
    const prompts = new Set(
      [0, 1, 2].map((i) => /content: "([^"]+)"/.exec(graphiqlDocument(new Date(Date.UTC(2030, 0, 1, 12, 0, i)), () => 0.5))![1]),
    );
    expect(prompts.size).toBe(3);
  });
});
