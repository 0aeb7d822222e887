import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { chat, openaiModel, outcomeOf } from '../helpers/upstream.js';

/**
 * Issue 14, first row: no prompt and no upstream answer can stall the process through token
 * counting. Before, a prompt of one 8,000-letter word blocked the event loop for 6.9 s (BPE inside
 * one long word is quadratic in js-tiktoken; 30,000 letters: 137 s), and so did an upstream
 * answer without usage.
 *
 * The bound, derived: what the gateway does on its event loop for one chat is linear in the text,
 * at most ~1.1 MB here, in a bounded number of passes (UTF-8 decoding, SSE line splitting,
 * JSON.parse, the chunker's word scan, JSON.stringify, WebSocket framing), each well under 10 ns
 * per byte, so under ~10 ms a pass and ~100 ms if every pass ran in one turn (they are spread over
 * the network reads). On this 2-core machine shared by other processes, a runnable process waits
 * for a core: at a load of ~7 wall time stretches ~4×, so ~400 ms. The bound is 1,000 ms, 2.5×
 * above that and 6.9× below the shortest stall it rules out.
 */
const LOOP_BLOCK_BOUND_MS = 1_000;

/** One word of `length` letters that repeat no pattern a tokenizer could cache (a linear congruence). */
function oneWord(length: number): string {
  let x = 12_345;
  let word = '';
  for (let i = 0; i < length; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    word += String.fromCharCode(97 + (x % 26));
  }
  return word;
}

/** Runs `work` and reports the longest time the event loop could not run a timer meanwhile. */
async function withLoopWatch<T>(work: () => Promise<T>): Promise<{ result: T; worstBlockMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    const result = await work();
    return { result, worstBlockMs: delay.max / 1e6 };
  } finally {
    delay.disable();
  }
}

let gateway: RunningGateway | undefined;
let fake: FakeOpenAIServer | undefined;

afterEach(async () => {
  await gateway?.close();
  await fake?.close();
  gateway = undefined;
  fake = undefined;
});

describe('token counting cannot stall the process', () => {
  it('a prompt that is one long word, on the embedded default: 8,000 letters, and the 100,000 of the prompt limit', async () => {
    gateway = await startGateway({ config: { ...defaultConfig, logLevel: 'silent', cache: { enabled: false } } });
    expect(gateway.config.limits.maxPromptChars).toBe(100_000);
    // Warmed up first, so the figures are the input's and not the first request's compilation.
    await chat(gateway, { content: 'warm up' });
    for (const length of [8_000, 100_000]) {
      const { result, worstBlockMs } = await withLoopWatch(() => chat(gateway!, { content: oneWord(length) }));
      const { terminal } = outcomeOf(result);
      // The default's simulated models fail now and then: a coded error is an answer too.
      if (terminal.__typename === 'ChatDone') expect(terminal.metrics.promptTokens).toBeGreaterThan(length / 8);
      else expect(terminal.code).toMatch(/^[A-Z_]+$/);
      expect(worstBlockMs, `${length} letters`).toBeLessThan(LOOP_BLOCK_BOUND_MS);
    }
  });

  it('an OpenAI-format upstream that reports no usage, with a long-word prompt and a 1 MB one-word answer', async () => {
    // 20 pieces of 50,000 letters: one word of a million letters, counted by the gateway.
    const piece = oneWord(50_000);
    fake = await startFakeOpenAI({ script: { tokens: Array.from({ length: 20 }, () => piece), omitUsage: true } });
    gateway = await startGateway({
      config: {
        logLevel: 'silent',
        models: [openaiModel('m-local', fake.url)],
        arms: [{ id: 'local', model: 'm-local' }],
        cache: { enabled: false },
        shadow: { rate: 0 },
      },
    });
    fake.enqueue({ tokens: ['warm', ' up'], omitUsage: true });
    await chat(gateway, { content: 'warm up' });
    const { result, worstBlockMs } = await withLoopWatch(() => chat(gateway!, { content: oneWord(8_000) }));
    const { terminal, text } = outcomeOf(result);
    if (terminal.__typename !== 'ChatDone') throw new Error(`expected done, got ${JSON.stringify(terminal)}`);
    expect(text).toBe(piece.repeat(20));
    expect(terminal.metrics.tokensEstimated).toBe(true);
    expect(terminal.metrics.promptTokens).toBeGreaterThan(1_000);
    expect(terminal.metrics.completionTokens).toBeGreaterThan(100_000);
    expect(worstBlockMs).toBeLessThan(LOOP_BLOCK_BOUND_MS);
  });
});
