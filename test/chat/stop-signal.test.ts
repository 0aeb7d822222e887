import { describe, expect, it } from 'vitest';
import { LazyAbortController, StopController } from '../../src/stop-signal.js';

describe('StopController', () => {
  it('runs each listener once, in the order added, with the reason set, and none added after the abort', () => {
    const stop = new StopController();
    const seen: string[] = [];
    const first = () => seen.push(`first:${String(stop.reason)}`);
    stop.addEventListener('abort', first);
    stop.addEventListener('abort', first);
    stop.addEventListener('abort', { handleEvent: () => seen.push(`object:${String(stop.aborted)}`) });
    stop.abort('gone');
    stop.abort('again');
    stop.addEventListener('abort', () => seen.push('late'));
    expect(seen).toEqual(['first:gone', 'object:true']);
    expect(stop.reason).toBe('gone');
  });

  it('forgets a removed listener, and aborts with an AbortError when given no reason', () => {
    const stop = new StopController();
    const seen: number[] = [];
    const one = () => seen.push(1);
    const two = () => seen.push(2);
    stop.addEventListener('abort', one);
    stop.addEventListener('abort', two);
    stop.removeEventListener('abort', one);
    stop.abort();
    expect(seen).toEqual([2]);
    expect(stop.reason).toBeInstanceOf(DOMException);
    expect((stop.reason as DOMException).name).toBe('AbortError');
  });

  it('runs the other listeners when one throws, and reports the error', async () => {
    const stop = new StopController();
    const seen: number[] = [];
    const reported = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    stop.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    stop.addEventListener('abort', () => seen.push(2));
    stop.abort();
    expect(seen).toEqual([2]);
    expect(((await reported) as Error).message).toBe('listener failed');
  });
});

describe('LazyAbortController', () => {
  it('makes no Node AbortSignal until asked, then one that follows the stop, already aborted if the stop came first', () => {
    const early = new LazyAbortController();
    const seen: string[] = [];
    early.addEventListener('abort', () => seen.push('stop'));
    const signal = early.abortSignal;
    expect(early.abortSignal).toBe(signal);
    signal.addEventListener('abort', () => seen.push('node'));
    expect(signal.aborted).toBe(false);
    early.abort('deadline');
    expect(seen).toEqual(['stop', 'node']);
    expect(signal.reason).toBe('deadline');

    const late = new LazyAbortController();
    late.abort(new Error('client left'));
    expect(late.abortSignal.aborted).toBe(true);
    expect((late.abortSignal.reason as Error).message).toBe('client left');
    expect(() => late.abortSignal.throwIfAborted()).toThrow('client left');
  });
});
