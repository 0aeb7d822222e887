import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ChatMessage } from './backend.js';

/**
 * Token counts for providers that report no usage. o200k_base is the encoding of OpenAI's current
 * models (gpt-4o, gpt-4.1, o-series); for other model families it is an estimate, which is why a
 * counted usage is marked `estimated`. The ranks ship inside gpt-tokenizer, so nothing is fetched.
 *
 * No text can stall the process through this module:
 * - counting runs in a worker thread, never on the event loop (BPE costs tens of microseconds per
 *   character inside one long word or a run of CJK text, so a 100,000-character prompt would block
 *   for seconds even with gpt-tokenizer's linear worst case);
 * - the worker and its tokenizer (~70 MB, about a second to load) start on the first count, so a
 *   process whose providers all report usage never loads them;
 * - a text past {@link MAX_COUNTED_CHARS} is counted on its first MAX_COUNTED_CHARS characters and
 *   the count scaled to its length, so one count costs at most that many characters of BPE;
 * - a count that takes longer than {@link COUNT_DEADLINE_MS} (the load included) falls back to
 *   {@link estimateTokens}, and the worker is restarted on the next count.
 */

/** Longest text counted exactly; past it, the count of this many characters is scaled. */
export const MAX_COUNTED_CHARS = 20_000;

/** Longest a count may take before its texts are estimated instead. */
export const COUNT_DEADLINE_MS = 10_000;

/** About 4 bytes of UTF-8 per token for English text: linear, and needs no tokenizer. */
export function estimateTokens(text: string): number {
  return text === '' ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/**
 * Chat framing as OpenAI documents it for its chat models: each message costs 3 tokens of framing
 * plus its role and content, and every reply is primed with 3 more.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY_PRIMING = 3;

function framed(messages: readonly ChatMessage[], count: (text: string, index: number) => number): number {
  let total = TOKENS_PER_REPLY_PRIMING;
  messages.forEach((message, i) => {
    total += TOKENS_PER_MESSAGE + count(message.role, 2 * i) + count(message.content, 2 * i + 1);
  });
  return total;
}

/** {@link estimateTokens} with the chat framing of {@link countMessageTokens}. */
export function estimateMessageTokens(messages: readonly ChatMessage[]): number {
  return framed(messages, estimateTokens);
}

/** A text to count: its first {@link MAX_COUNTED_CHARS} characters and its whole length. */
export interface TextSample {
  readonly sample: string;
  readonly totalChars: number;
}

export function sampleOf(text: string): TextSample {
  return { sample: text.length > MAX_COUNTED_CHARS ? text.slice(0, MAX_COUNTED_CHARS) : text, totalChars: text.length };
}

/** The o200k_base count of `text` (scaled past {@link MAX_COUNTED_CHARS}), counted off the event loop. */
export async function countTokens(text: string | TextSample): Promise<number> {
  const [count] = await countSamples([typeof text === 'string' ? sampleOf(text) : text]);
  return count!;
}

/** The prompt tokens of `messages`, with OpenAI's chat framing, counted off the event loop. */
export async function countMessageTokens(messages: readonly ChatMessage[]): Promise<number> {
  const counts = await countSamples(messages.flatMap((m) => [sampleOf(m.role), sampleOf(m.content)]));
  return framed(messages, (_text, index) => counts[index]!);
}

async function countSamples(samples: readonly TextSample[]): Promise<number[]> {
  const counts = await countInWorker(samples.map((s) => s.sample));
  return samples.map((s, i) => {
    const count = counts?.[i] ?? estimateTokens(s.sample);
    return s.sample.length < s.totalChars ? Math.round((count * s.totalChars) / s.sample.length) : count;
  });
}

// CommonJS evaluated in the worker: no file of its own, so it runs alike from the build, under tsx
// and under vitest. No special tokens allowed or disallowed: "<|endoftext|>" in user text is
// ordinary text here, not a reason to throw.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { countTokens } = require(workerData.tokenizer);
const options = { disallowedSpecial: new Set() };
parentPort.on('message', ({ id, texts }) => {
  parentPort.postMessage({ id, counts: texts.map((text) => (text === '' ? 0 : countTokens(text, options))) });
});
`;

interface PendingCount {
  readonly worker: Worker;
  readonly resolve: (counts: number[] | null) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, PendingCount>();

/** A worker that failed or was stopped answers none of its counts: they are estimated. */
function abandon(stopped: Worker): void {
  if (worker === stopped) worker = undefined;
  for (const [id, count] of pending) {
    if (count.worker !== stopped) continue;
    clearTimeout(count.timer);
    pending.delete(id);
    count.resolve(null);
  }
}

function startWorker(): Worker {
  const tokenizer = createRequire(import.meta.url).resolve('gpt-tokenizer/encoding/o200k_base');
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { tokenizer } });
  // A count in flight must not keep a stopping process alive.
  started.unref();
  started.on('message', ({ id, counts }: { id: number; counts: number[] }) => {
    const count = pending.get(id);
    if (count === undefined) return;
    pending.delete(id);
    clearTimeout(count.timer);
    count.resolve(counts);
  });
  started.on('error', () => abandon(started));
  started.on('exit', () => abandon(started));
  return started;
}

/** Resolves with one count per text, or null when the worker failed or missed the deadline. */
function countInWorker(texts: readonly string[]): Promise<number[] | null> {
  if (texts.every((text) => text === '')) return Promise.resolve(texts.map(() => 0));
  worker ??= startWorker();
  const current = worker;
  const id = nextId++;
  return new Promise((resolve) => {
    // It may be deep in a pathological count: stop it, and the next count gets a fresh worker.
    const timer = setTimeout(() => {
      abandon(current);
      void current.terminate();
    }, COUNT_DEADLINE_MS);
    timer.unref();
    pending.set(id, { worker: current, resolve, timer });
    current.postMessage({ id, texts });
  });
}
