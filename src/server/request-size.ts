import type { IncomingMessage } from 'node:http';
import { CodedError } from '../coded-error.js';
import type { SwitchyardConfig } from '../config/schema.js';

/**
 * The largest request the gateway reads: an HTTP body (GraphQL, /v1) or one WebSocket message.
 * Unset (`server.maxRequestBytes`), it is what the largest prompt the limits accept can take:
 * every character \u-escaped in JSON (6 bytes), plus 1 MiB for the rest of the envelope (up to
 * limits.maxMessages messages, tags, the document).
 */
export function maxRequestBytes(config: Pick<SwitchyardConfig, 'server' | 'limits'>): number {
  return config.server.maxRequestBytes ?? config.limits.maxPromptChars * 6 + 1024 * 1024;
}

/**
 * How much of a refused body is read and thrown away, at most, before its socket is cut: a client
 * still sending when the 413 goes out sees the answer only if the server keeps reading (cut at
 * once, its next write fails with EPIPE and the answer is lost; the fuzzer found it, issue 14).
 */
export const REFUSED_BODY_DRAIN_FACTOR = 4;
export const REFUSED_BODY_DRAIN_MS = 5_000;

/** The one wording of BODY_TOO_LARGE, whichever layer finds the body too large. */
export const bodyTooLargeMessage = (maxBytes: number) => `the request body is larger than ${maxBytes} bytes`;

/**
 * Answers a request whose declared body is past `maxBytes` with `BODY_TOO_LARGE` (through
 * `answer`, which writes the 413 in the shape the request's route speaks), then reads and
 * discards the body (never buffering it) up to `REFUSED_BODY_DRAIN_FACTOR × maxBytes` bytes or
 * `REFUSED_BODY_DRAIN_MS`: past either the connection is cut; a body read whole leaves it open.
 */
export function refuseOversizedBody(req: IncomingMessage, maxBytes: number, answer: (error: CodedError) => void): void {
  const socket = req.socket;
  const cut = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cut, REFUSED_BODY_DRAIN_MS);
  timer.unref();
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > REFUSED_BODY_DRAIN_FACTOR * maxBytes) cut();
  });
  // Everything read: the connection serves on (keep-alive), as after any other answer.
  req.on('end', () => clearTimeout(timer));
  req.on('error', cut);
  // No `Connection: close` header: with it, node destroys the socket as soon as the answer is
  // written, before the body is read.
  answer(new CodedError('BODY_TOO_LARGE', bodyTooLargeMessage(maxBytes)));
}
