import type { Logger } from '../logger.js';

/**
 * Bookkeeping a chat can do once its upstream request is on the wire. undici writes a request on
 * a reused keep-alive socket in the event loop's check phase (`setImmediate`: it first lets the
 * idle socket's pending bytes be read, GHSA-35p6-xmwp-9g52), so whatever else runs in the turn
 * that dispatched it, before or after the dispatch, delays the write. Work queued here runs in one
 * `setImmediate` of its own, queued after undici's, so after the writes of the turn. An owner that
 * needs its work done sooner (an event it is about to hand out depends on it) runs it itself:
 * `runDeferred` on an item that already ran does nothing.
 */

export interface DeferredWork {
  /** Does the deferred work, once; called again (by the owner or the queue), does nothing. */
  runDeferred(): void;
}

export type AfterDispatch = (work: DeferredWork) => void;

export function createAfterDispatch(logger: Logger): AfterDispatch {
  let queue: DeferredWork[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    const items = queue;
    queue = [];
    for (const item of items) {
      try {
        item.runDeferred();
      } catch (error) {
        logger.error({ err: error }, 'deferred chat bookkeeping failed');
      }
    }
  };
  return (work) => {
    queue.push(work);
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
}
