import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/**
 * A normalised client cache (Apollo Client's InMemoryCache, default settings) must show every
 * context's arm figures as the gateway computed them, whichever context was queried last.
 */

const ARMS_IN_CONTEXT = gql`
  query ArmsInContext($context: String) {
    armsInContext(context: $context) {
      id
      context
      arm {
        id
        model
        enabled
      }
      pulls
      probabilityBest
      posterior {
        alpha
        beta
        mean
      }
    }
  }
`;

const FEEDBACK = gql`
  mutation Feedback($requestId: ID!, $feedbackToken: String!) {
    submitFeedback(input: { requestId: $requestId, feedbackToken: $feedbackToken, thumbs: UP }) {
      requestId
      context
      armInContext {
        id
        context
        pulls
        posterior {
          alpha
          beta
          mean
        }
      }
    }
  }
`;

/** The deprecated shape: Arm figures, which one id per arm cannot keep apart per context. */
const ARMS = gql`
  query Arms($context: String) {
    arms(context: $context) {
      id
      pulls
      posterior {
        alpha
      }
    }
  }
`;

interface Figures {
  id: string;
  context: string;
  arm: { id: string };
  pulls: number;
  posterior: { alpha: number; beta: number };
}

describe("Apollo Client's normalised cache", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
    // Different evidence per context: code learns about "best", prose about "weak".
    const teach = async (tags: string[], arm: string, times: number) => {
      for (let i = 0; i < times; i++) {
        let requestId = '';
        let feedbackToken = '';
        for await (const result of gateway.client.subscribe(ChatDocument, {
          input: { messages: [{ role: 'USER', content: `${tags[0]} question ${i}` }], tags, arm, cache: false },
        })) {
          if (result.data!.chat.__typename === 'ChatRoute') ({ requestId, feedbackToken } = result.data!.chat);
        }
        await gateway.client.request(SubmitFeedbackDocument, { input: { requestId, feedbackToken, thumbs: 'UP' } });
      }
    };
    await teach(['code'], 'best', 3);
    await teach(['prose'], 'weak', 2);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const apollo = () => new ApolloClient({ link: new HttpLink({ uri: gateway.url }), cache: new InMemoryCache() });
  const held = (context: string) =>
    gateway.app.services.router.arms(context, 0).map((arm) => ({ id: arm.id, pulls: arm.pulls, alpha: arm.posterior.alpha, beta: arm.posterior.beta }));
  const shown = (figures: readonly Figures[]) =>
    figures.map((f) => ({ id: f.arm.id, pulls: f.pulls, alpha: f.posterior.alpha, beta: f.posterior.beta }));

  it('keeps the figures of two contexts queried one after another apart', async () => {
    const client = apollo();
    const code = await client.query<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'code' } });
    const prose = await client.query<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'prose' } });
    expect(shown(code.data!.armsInContext)).toEqual(held('code'));
    expect(shown(prose.data!.armsInContext)).toEqual(held('prose'));
    expect(held('code')).not.toEqual(held('prose'));

    // Read back from the cache alone, after the other context was written into it.
    const cachedCode = client.readQuery<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'code' } });
    const cachedProse = client.readQuery<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'prose' } });
    expect(shown(cachedCode!.armsInContext)).toEqual(held('code'));
    expect(shown(cachedProse!.armsInContext)).toEqual(held('prose'));
    // The arm itself (id, model, enabled) is one normalised object shared by both contexts.
    expect(Object.keys(client.cache.extract() as object)).toEqual(expect.arrayContaining(['Arm:best', 'ArmInContext:best@code', 'ArmInContext:best@prose']));
  });

  it('writes a feedback result into its own context’s entry and leaves the other context’s alone', async () => {
    const client = apollo();
    await client.query({ query: ARMS_IN_CONTEXT, variables: { context: 'code' } });
    await client.query({ query: ARMS_IN_CONTEXT, variables: { context: 'prose' } });
    const proseBefore = client.readQuery<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'prose' } });
    let requestId = '';
    let feedbackToken = '';
    for await (const result of gateway.client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: 'one more code question' }], tags: ['code'], arm: 'best', cache: false },
    })) {
      if (result.data!.chat.__typename === 'ChatRoute') ({ requestId, feedbackToken } = result.data!.chat);
    }
    const result = await client.mutate<{ submitFeedback: { context: string; armInContext: Figures } }>({
      mutation: FEEDBACK,
      variables: { requestId, feedbackToken },
    });
    expect(result.data!.submitFeedback.context).toBe('code');
    expect(result.data!.submitFeedback.armInContext.id).toBe('best@code');

    // The code query, read from the cache, now shows the arm's figures after the update...
    const cachedCode = client.readQuery<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'code' } });
    const best = cachedCode!.armsInContext.find((a) => a.arm.id === 'best')!;
    expect(shown([best])).toEqual(held('code').filter((a) => a.id === 'best'));
    // ...and the prose query still shows what the gateway said for prose, not code's figures.
    const proseAfter = client.readQuery<{ armsInContext: Figures[] }>({ query: ARMS_IN_CONTEXT, variables: { context: 'prose' } });
    expect(proseAfter).toEqual(proseBefore);
  });

  it('shows why: the deprecated Arm figures share one cache entry per arm across contexts', async () => {
    const client = apollo();
    await client.query({ query: ARMS, variables: { context: 'code' } });
    await client.query({ query: ARMS, variables: { context: 'prose' } });
    const cachedCode = client.readQuery<{ arms: Array<{ id: string; pulls: number }> }>({ query: ARMS, variables: { context: 'code' } });
    const pullsShown = cachedCode!.arms.map((a) => a.pulls);
    expect(pullsShown).toEqual(held('prose').map((a) => a.pulls));
    expect(pullsShown).not.toEqual(held('code').map((a) => a.pulls));
  });
});
