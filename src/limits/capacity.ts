import type { CapacityConfig } from '../config/schema.js';
import { LimitError } from './limit-error.js';
import type { Lease, LimiterStore } from './limiter-store.js';

/**
 * Admission control: what one instance takes on at once. Chats in flight and model calls in
 * flight (per model and in total) are bounded; past a bound, work is refused at once with
 * OVERLOADED and a retry-after instead of being queued, so the time to route stays bounded and the
 * streams already in flight keep the event loop, the memory and the upstream connections they
 * need. Counted in this instance's memory (its own capacity), through the one limiter store.
 */

export interface Capacity {
  /**
   * A chat slot, or LimitError OVERLOADED when the instance has `maxChats` in flight or no model
   * could take a call now (a chat admitted then would only end with OVERLOADED after its route).
   */
  admitChat(): Lease;
  /**
   * The LimitError OVERLOADED admitChat would throw now (counted as a refused chat), or null, without
   * taking a slot: how a transport refuses a chat before doing any work for it. One error per reason,
   * made once: a refusal under a burst costs no allocation.
   */
  chatRefusal(): LimitError | null;
  /** A model-call slot, or null when the model or the instance is full. */
  tryUpstreamCall(modelId: string): Lease | null;
  /** Whether a call to the model would be admitted now (routing skips a full model). */
  hasRoomFor(modelId: string): boolean;
  /** For /health. */
  saturation(): CapacityReport;
}

export interface CapacityReport {
  readonly saturated: boolean;
  readonly chats: { readonly inFlight: number; readonly limit: number };
  readonly upstreamCalls: { readonly inFlight: number; readonly limit: number; readonly perModelLimit: number };
  /** Refused since start. */
  readonly refused: { readonly chats: number; readonly upstreamCalls: number };
}

const ALL = '*';

/** An upstream call's two slots (all models, its model), freed together; one object per call. */
class LeasePair implements Lease {
  constructor(
    private readonly total: Lease,
    private readonly model: Lease,
  ) {}

  release(): void {
    this.total.release();
    this.model.release();
  }
}

export function createCapacity(deps: {
  readonly store: LimiterStore;
  readonly config: Pick<CapacityConfig, 'maxChats' | 'maxUpstreamCalls' | 'maxUpstreamCallsPerModel' | 'retryAfterMs'>;
  /** Every model a chat may be routed to. */
  readonly modelIds: readonly string[];
}): Capacity {
  const { config } = deps;
  const chats = deps.store.localSlots('capacity:chats');
  const calls = deps.store.localSlots('capacity:upstream');
  const perModel = deps.store.localSlots('capacity:upstream-per-model');
  let refusedChats = 0;
  let refusedCalls = 0;

  const hasRoomFor = (modelId: string) =>
    calls.held(ALL) < config.maxUpstreamCalls && perModel.held(modelId) < config.maxUpstreamCallsPerModel;

  const noModel = new LimitError('OVERLOADED', 'every model has as many calls in flight as this instance takes on', config.retryAfterMs);
  const full = new LimitError('OVERLOADED', `this instance has ${config.maxChats} chats in flight`, config.retryAfterMs);
  const chatRefusal = () => {
    const refusal = !deps.modelIds.some(hasRoomFor) ? noModel : chats.held(ALL) >= config.maxChats ? full : null;
    if (refusal) refusedChats += 1;
    return refusal;
  };

  return {
    admitChat() {
      const refusal = chatRefusal();
      if (refusal) throw refusal;
      const lease = chats.tryAcquire(ALL, config.maxChats);
      if (lease) return lease;
      refusedChats += 1;
      throw full;
    },
    chatRefusal,
    tryUpstreamCall(modelId) {
      if (!hasRoomFor(modelId)) {
        refusedCalls += 1;
        return null;
      }
      return new LeasePair(calls.tryAcquire(ALL, config.maxUpstreamCalls)!, perModel.tryAcquire(modelId, config.maxUpstreamCallsPerModel)!);
    },
    hasRoomFor,
    saturation() {
      const inFlight = chats.held(ALL);
      const callsInFlight = calls.held(ALL);
      return {
        saturated: inFlight >= config.maxChats || callsInFlight >= config.maxUpstreamCalls,
        chats: { inFlight, limit: config.maxChats },
        upstreamCalls: { inFlight: callsInFlight, limit: config.maxUpstreamCalls, perModelLimit: config.maxUpstreamCallsPerModel },
        refused: { chats: refusedChats, upstreamCalls: refusedCalls },
      };
    },
  };
}
