import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDirect, startProviderProcess } from '../../bench/upstream.bench.js';

describe('the upstream bench\'s fake provider in a process of its own', () => {
  let provider: Awaited<ReturnType<typeof startProviderProcess>>;
  const agent = new Agent({ connections: 4 });
  beforeAll(async () => {
    provider = await startProviderProcess();
  }, 30_000);
  afterAll(async () => {
    await agent.close();
    await provider?.close();
  });

  it('streams the bench\'s script, to several readers at once, the way the in-process server does', async () => {
    // readDirect checks the token count itself and throws on a short stream.
    const timings = await Promise.all([0, 1, 2, 3].map((i) => readDirect(agent, provider.url, i)));
    for (const { ttftMs, totalMs } of timings) {
      // 20 ms before the first token and 49 more 1 ms apart: neither can come sooner.
      expect(ttftMs).toBeGreaterThanOrEqual(19);
      expect(totalMs).toBeGreaterThanOrEqual(ttftMs + 45);
    }
  });
});
