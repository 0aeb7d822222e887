import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { testConfigInput } from '../helpers/gateway.js';
import { errorsOf, overHttp } from '../helpers/raw-operations.js';

/**
 * Issue 14, the fuzzer's worst event-loop block: under `npm run fuzz:long` the gateway's heap held
 * ~213 MB, most of it yoga's parser cache (1,024 documents and 1,024 parse errors by document text,
 * of any size), and the old generation's collections over that heap were the longest pauses (up to
 * 130 ms of CPU, 250–340 ms on the loaded machine). The cache is now bounded by the text it holds
 * (src/server/parser-cache.ts). Probe: 300 distinct documents of 1 MB that fail to parse, each sent
 * once; what the process keeps of them shows in its resident memory.
 */

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

let gateway: SwitchyardProcess;
beforeAll(async () => {
  gateway = await spawnSwitchyard({ config: { ...testConfigInput(), shadow: { rate: 0 } } });
}, 90_000);
afterAll(async () => {
  await gateway?.stop();
});

describe("the parser cache's memory", () => {
  it('keeps none of 300 distinct 1 MB documents refused at parse', async () => {
    const warm = await overHttp(gateway.url, { query: '{ __typename }' });
    expect(warm.status).toBe(200);
    const before = rssMb(gateway.pid);
    for (let i = 0; i < 300; i++) {
      // A string of a million letters is one token; the document then ends without its brace.
      const outcome = await overHttp(gateway.url, { query: `{ q${i}: arms(context: "${'x'.repeat(1_000_000)}") { id }` });
      expect(errorsOf(outcome).map((e) => e.extensions?.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
    }
    const grown = rssMb(gateway.pid) - before;
    console.log(`parser cache: resident memory grew ${grown.toFixed(0)} MB over 300 distinct 1 MB documents`);
    // Kept, they are 300 MB of text alone (one byte a letter): yoga's own cache grew it 382 MB. Kept
    // none, what grows is garbage not yet collected and the allocator's slack (51 MB measured).
    expect(grown).toBeLessThan(150);
  }, 120_000);
});
