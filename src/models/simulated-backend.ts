import type { SimulatedModelConfig } from '../config/schema.js';
import { createRng, type Rng } from '../router/random.js';
import {
  batchedEvents,
  UpstreamError,
  type CompletionEvent,
  type CompletionRequest,
  type ModelBackend,
  type ModelPricing,
} from './backend.js';
import { estimateMessageTokens } from './token-counter.js';

/**
 * A model that needs no network: it streams generated text with a configured time to first
 * token, speed and error rate. The answer to a prompt depends only on the seed and the prompt, so
 * the same question gets the same answer (which makes caching demonstrable) and runs repeat.
 */

export interface SimulatedBackend extends ModelBackend {
  /** Probability that a user likes an answer; demos and benches use it to simulate feedback. */
  readonly quality: number;
}

const VOCABULARY = (
  'the a router model answer request stream token latency cost quality bandit arm posterior sample ' +
  'reward context feedback cache signal value system user data result because therefore however ' +
  'first then finally which while when where this that these those is are was can will should ' +
  'fast slow cheap strong weak learns picks routes measures returns explains improves adapts'
).split(' ');

function hashString(text: string, seed: number): number {
  // FNV-1a: a cheap, well-spread 32-bit hash is all the prompt → answer mapping needs.
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function generateAnswer(rng: Rng, tokens: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < tokens; i++) {
    const word = VOCABULARY[Math.floor(rng() * VOCABULARY.length)]!;
    const capitalised = i === 0 || words[i - 1]!.endsWith('.') ? word[0]!.toUpperCase() + word.slice(1) : word;
    const endsSentence = i === tokens - 1 || rng() < 0.08;
    words.push((i === 0 ? '' : ' ') + capitalised + (endsSentence ? '.' : ''));
  }
  return words;
}

/**
 * Waits `ms`, rejecting at once with the signal's reason when it aborts. What
 * `timers/promises`' setTimeout with a signal does, in a third of the memory (~0.9 KB against
 * ~2.2 KB while it waits, measured on Node 20): a subscription waiting for its first token from
 * a simulated model holds one of these.
 */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createSimulatedBackend(config: SimulatedModelConfig): SimulatedBackend {
  const seed = config.seed ?? hashString(config.id, 0);
  // Failures draw from their own stream so that they do not change which answer a prompt gets.
  const failureRng = createRng(seed);
  const pricing: ModelPricing = { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k };

  async function* streamBatches(request: CompletionRequest): AsyncGenerator<CompletionEvent[]> {
    const { signal } = request;
    signal.throwIfAborted();
    const failing = failureRng() < config.errorRate;
    if (config.ttftMs > 0) await delay(config.ttftMs, signal);
    if (failing) {
      throw new UpstreamError('UPSTREAM_HTTP_ERROR', `simulated model ${config.id} failed (503)`, {
        retryable: true,
        status: 503,
      });
    }
    const prompt = request.messages.map((m) => `${m.role}:${m.content}`).join('\n');
    const answerRng = createRng(hashString(prompt, seed));
    const tokens = generateAnswer(answerRng, Math.min(config.answerTokens, request.maxTokens));
    const msPerToken = config.tokensPerSecond > 0 ? 1000 / config.tokensPerSecond : 0;
    const started = performance.now();
    let sent = 0;
    let batch: CompletionEvent[] = [];
    while (sent < tokens.length) {
      // Every token that is due goes out in one batch, as the tokens of one network read would.
      // Scheduled against the start time so that timer slack does not add up into a slower stream.
      const due = msPerToken === 0 ? tokens.length : Math.min(tokens.length, 1 + Math.floor((performance.now() - started) / msPerToken));
      if (due <= sent) {
        await delay(started + sent * msPerToken - performance.now(), signal);
        continue;
      }
      signal.throwIfAborted();
      for (; sent < due; sent++) batch.push({ type: 'token', text: tokens[sent]! });
      if (sent < tokens.length) {
        yield batch;
        batch = [];
      }
    }
    // The simulated model is its own tokenizer: its prompt tokens are the estimate, counted in
    // linear time, so no prompt can make it stall the process or load a real tokenizer.
    batch.push(
      { type: 'usage', promptTokens: estimateMessageTokens(request.messages), completionTokens: tokens.length, estimated: false },
      { type: 'finish', reason: tokens.length < config.answerTokens ? 'length' : 'stop' },
    );
    yield batch;
  }

  return {
    id: config.id,
    provider: 'simulated',
    pricing,
    quality: config.quality,
    stream: (request) => batchedEvents(() => streamBatches(request)),
  };
}
