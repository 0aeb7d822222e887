import type { Principal } from '../auth/principal.js';
import { accessibleRequest, requireTokenIfAnonymous } from '../auth/request-access.js';
import { requireScope } from '../auth/scopes.js';
import type { Capacity } from '../limits/capacity.js';
import type { Lease } from '../limits/limiter-store.js';
import type { SpendEstimator } from '../limits/spend-estimate.js';
import type { Admission, ChatUsage, ClientLimiter } from '../limits/client-limiter.js';
import { costUsd, type ModelPricing } from '../models/backend.js';
import type { ComparisonPreference, ComparisonResult, ShadowCallView, ShadowRouter } from '../router/shadow-router.js';
import { createChatDrain, TrackedChat } from './chat-drain.js';
import type { ChatEvent, ChatRequest } from './chat-events.js';
import { FeedbackError, type ChatService, type FeedbackInput, type FeedbackResult } from './chat-service.js';
import type { RequestRecord } from './request-store.js';

/**
 * What a principal may do with the chat service, for every transport alike: chats are admitted
 * by the principal's limits and charged what they used; requests, their feedback and their shadow
 * answers belong to the client that made them (its key, or without one its request's feedback
 * token; see src/auth/request-access.ts). Which scope each operation needs is decided in
 * src/auth/scopes.ts, before this is reached.
 */

/** A request's feedback token: needed by callers without a client key. */
export type FeedbackToken = string | null | undefined;

export interface ChatGate {
  /** Admits (throws LimitError: OVERLOADED, RATE_LIMITED, BUDGET_EXHAUSTED), validates (throws ChatInputError), then streams; `return()` aborts. */
  chat(principal: Principal, request: Omit<ChatRequest, 'owner'>): Promise<AsyncGenerator<ChatEvent, void, undefined>>;
  /** Stops taking chats and drains those in flight (see src/chat/chat-drain.ts). */
  stop(cutAt: number, giveUpAt: number): Promise<void>;
  submitFeedback(principal: Principal, input: FeedbackInput & { readonly feedbackToken?: FeedbackToken }): Promise<FeedbackResult>;
  /**
   * Undefined when unknown, expired or not provably the caller's (wrong token); throws FORBIDDEN
   * when another key's, FEEDBACK_TOKEN_REQUIRED for a caller without a key or a token.
   */
  request(principal: Principal, id: string, feedbackToken: FeedbackToken): Promise<RequestRecord | undefined>;
  shadowCall(principal: Principal, requestId: string, feedbackToken: FeedbackToken): Promise<ShadowCallView | undefined>;
  submitComparison(
    principal: Principal,
    requestId: string,
    preferred: ComparisonPreference,
    feedbackToken: FeedbackToken,
  ): Promise<ComparisonResult>;
}

export interface ChatGateDeps {
  readonly chat: ChatService;
  readonly shadow: ShadowRouter;
  readonly limiter: ClientLimiter;
  /** What this instance takes on; refused before the client's own limits are counted. */
  readonly capacity: Pick<Capacity, 'admitChat'>;
  readonly pricing: (modelId: string) => ModelPricing | undefined;
  /** The most a chat can cost, reserved against the client's hourly budgets. */
  readonly spendEstimate: SpendEstimator;
}

/** What a metered chat asks the gate for: one object for every chat. */
interface MeterDeps {
  readonly chat: Pick<ChatService, 'localRequest'>;
  readonly estimatedUsage: (request: ChatRequest, modelId: string, sentChars: number) => ChatUsage;
}

/**
 * A chat charged to its admission: what it used when it ends with a ChatDone, what it sent
 * (estimated) when it ends otherwise, and the admission and the instance's chat slot released
 * either way. The drain's object for the chat itself (it only watches the stream, so metering adds
 * no async layer, and no object: memory per waiting subscription).
 */
class MeteredChat extends TrackedChat {
  private modelId: string | null = null;
  private sentChars = 0;
  private isSettled = false;

  constructor(
    private readonly request: ChatRequest,
    private readonly admission: Admission,
    private readonly slot: Lease,
    private readonly deps: MeterDeps,
  ) {
    super();
  }

  private charge(usage: ChatUsage | null): void {
    // A cache hit, or a watcher of another request's upstream call, cost nothing of its own.
    const record = this.requestId === null ? undefined : this.deps.chat.localRequest(this.requestId);
    if (this.modelId !== null && record && !record.shared) {
      this.admission.charge(usage ?? this.deps.estimatedUsage(this.request, this.modelId, this.sentChars));
    }
    this.modelId = null;
  }

  protected settled(): void {
    if (this.isSettled) return;
    this.isSettled = true;
    // Ended without a ChatDone (cancelled, or failed midway): what was sent, estimated. Charged
    // before the release, which gives back the reservation of a chat that was not charged.
    if (this.modelId !== null) this.charge(null);
    this.slot.release();
    this.admission.release();
  }

  protected observe(event: ChatEvent): void {
    // An event that arrives after the end (a read abandoned at a drain's cut) is not counted.
    if (this.isSettled) return;
    this.requestId = event.requestId;
    if (event.type === 'route') this.modelId = event.modelId;
    else if (event.type === 'chunk') this.sentChars += event.text.length;
    else if (event.type === 'done') {
      // Counted before the client sees the end, so its next request already finds it counted.
      const { promptTokens, completionTokens, costUsd } = event.metrics;
      this.charge({ tokens: promptTokens + completionTokens, costUsd });
    } else if (!event.partial) {
      // Failed before any token: nothing is known to have been spent.
      this.modelId = null;
    }
  }
}

/**
 * The chat request with its owner: one literal of every field, typed so that a field added to
 * ChatRequest must be added here. Not a copy onto `{}` (withFields): V8 keeps the fields of such a
 * copy beyond its first four out of the object, in an array of their own, which a chat waiting for
 * its first token holds (memory per waiting subscription).
 */
function ownedRequest(input: Omit<ChatRequest, 'owner'>, principal: Principal): ChatRequest {
  const request: { readonly [K in keyof Required<ChatRequest>]: ChatRequest[K] } = {
    messages: input.messages,
    tags: input.tags,
    armId: input.armId,
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    cache: input.cache,
    objective: input.objective,
    explain: input.explain,
    owner: principal.keyId,
    client: principal.client,
    session: input.session,
  };
  return request;
}

/** Tokens of text that was cut short, when no provider counted them: about four characters each. */
const CHARS_PER_TOKEN = 4;

export function createChatGate(deps: ChatGateDeps): ChatGate {
  const { chat, shadow, limiter } = deps;
  const drain = createChatDrain();

  const owned = async (principal: Principal, id: string, token: FeedbackToken): Promise<RequestRecord | undefined> => {
    // Told before the request is looked up (here or in the shared store), as accessibleRequest says.
    requireTokenIfAnonymous(principal, token, id);
    const record = await chat.getRequest(id);
    return accessibleRequest(principal, id, token, () => record);
  };
  /** The same refusal as for an unknown id, so that a guessed id tells nothing. */
  const requireOwned = async (principal: Principal, id: string, token: FeedbackToken): Promise<RequestRecord> => {
    const record = await owned(principal, id, token);
    if (!record) throw new FeedbackError('REQUEST_NOT_FOUND', `request "${id}" is unknown or has expired`);
    return record;
  };

  /** What a chat that ended without a ChatDone used: its prompt and what was sent, estimated. */
  const estimatedUsage = (request: ChatRequest, modelId: string, sentChars: number): ChatUsage => {
    const pricing = deps.pricing(modelId);
    const promptChars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
    const promptTokens = Math.ceil(promptChars / CHARS_PER_TOKEN);
    const completionTokens = Math.ceil(sentChars / CHARS_PER_TOKEN);
    return {
      tokens: promptTokens + completionTokens,
      costUsd: pricing ? costUsd(pricing, promptTokens, completionTokens) : 0,
    };
  };

  const meterDeps: MeterDeps = { chat, estimatedUsage };

  return {
    async chat(principal, input) {
      drain.admit();
      // Pinning bypasses the router, and its cost penalty: a privilege of its own on every transport.
      if (input.armId !== undefined) requireScope(principal, 'chat.pinnedArm');
      const slot = deps.capacity.admitChat();
      let admission: Admission;
      try {
        admission = await limiter.admit(principal, () => deps.spendEstimate(input));
      } catch (error) {
        slot.release();
        throw error;
      }
      const request = ownedRequest(input, principal);
      const metered = new MeteredChat(request, admission, slot, meterDeps);
      try {
        metered.start(chat.stream(request, metered.signal));
      } catch (error) {
        slot.release();
        admission.release();
        throw error;
      }
      return drain.track(metered);
    },

    stop: (cutAt, giveUpAt) => drain.stop(cutAt, giveUpAt),

    async submitFeedback(principal, { feedbackToken, ...input }) {
      await requireOwned(principal, input.requestId, feedbackToken);
      return chat.submitFeedback(input);
    },

    request: owned,

    // Without its request (forgotten first) a shadow answer has no known owner, so it is not shown.
    shadowCall: async (principal, requestId, token) => ((await owned(principal, requestId, token)) ? shadow.call(requestId) : undefined),

    async submitComparison(principal, requestId, preferred, token) {
      // The record found here (locally or in the shared store) is the one compared: one lookup, one access rule.
      return shadow.submitComparison(await requireOwned(principal, requestId, token), preferred);
    },
  };
}
