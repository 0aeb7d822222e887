import { describe, expect, it } from 'vitest';
import { createAfterDispatch, type DeferredWork } from '../../src/chat/after-dispatch.js';
import { createCapturingLogger } from '../helpers/gateway.js';

/**
 * The queue of chat bookkeeping that waits for the upstream write: undici writes a reused socket's
 * request in an immediate queued at dispatch, so the queue's own immediate must come after it.
 */
describe('after dispatch', () => {
  it('runs queued work in one immediate, after an immediate queued before it, each item once', async () => {
    const { logger } = createCapturingLogger();
    const afterDispatch = createAfterDispatch(logger);
    const order: string[] = [];
    const item = (name: string): DeferredWork => ({ runDeferred: () => order.push(name) });
    // Stands for undici's idle-socket validation, which writes the request.
    setImmediate(() => order.push('request written'));
    afterDispatch(item('a'));
    afterDispatch(item('b'));
    order.push('turn ends');
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['turn ends', 'request written', 'a', 'b']);
    // A second turn is a second immediate.
    afterDispatch(item('c'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['turn ends', 'request written', 'a', 'b', 'c']);
  });

  it('an item that throws is logged, and the items after it still run', async () => {
    const { logger, lines } = createCapturingLogger('error');
    const afterDispatch = createAfterDispatch(logger);
    const ran: string[] = [];
    afterDispatch({
      runDeferred: () => {
        throw new Error('broken bookkeeping');
      },
    });
    afterDispatch({ runDeferred: () => ran.push('next') });
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['next']);
    expect(lines.some((line) => line.includes('deferred chat bookkeeping failed') && line.includes('broken bookkeeping'))).toBe(true);
  });
});
