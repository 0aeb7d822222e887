/**
 * Server-sent events, parsed as the WHATWG HTML standard defines the `text/event-stream` format
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
 *
 * The parser is incremental: bytes arrive in arbitrary pieces (a TCP read may end inside a line, a
 * CRLF pair or a multi-byte UTF-8 character) and events come out as soon as their blank line has
 * been read. An event still pending when the stream ends is discarded, as the standard requires.
 */

import { isAscii } from 'node:buffer';

export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  readonly event: string;
  /** The `data:` lines joined with "\n". */
  readonly data: string;
  /** The last event id set by the stream (ids persist across events), when one is set. */
  readonly id?: string;
  /** The reconnection time (ms) last set by a `retry:` field, when one was set. */
  readonly retry?: number;
}

export interface SseParser {
  /** Feeds the next piece of the stream; returns the events it completed. */
  push(chunk: Uint8Array | string): SseEvent[];
  /** Ends the stream: flushes the decoder and discards any incomplete event. */
  end(): SseEvent[];
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = '\uFEFF';

export function createSseParser(): SseParser {
  // The decoder keeps the BOM so that exactly one leading BOM is stripped below, whatever the
  // input type, as the standard says.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /**
   * The decoder may hold the start of a multi-byte character: the last piece it decoded ended in a
   * byte ≥ 0x80. Until then, a piece of ASCII bytes only is the same text whatever decodes it, and
   * a Buffer's latin1 slice makes it ~3× cheaper than the streaming decode (which was ~2% of an
   * upstream chat's CPU: one call per network read, most of them ASCII JSON).
   */
  let decoderHolds = false;
  let buffer = '';
  // A CR ended the previous piece: if the next piece starts with LF, that LF belongs to the CR.
  let skipLeadingLf = false;
  let atStreamStart = true;
  let eventType = '';
  let data = '';
  let hasData = false;
  let lastEventId = '';
  let retry: number | undefined;

  function processField(field: string, value: string): void {
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data += value + '\n';
        hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) retry = Number(value);
        break;
      default:
        // Unknown fields are ignored by the standard.
        break;
    }
  }

  function dispatch(out: SseEvent[]): void {
    if (!hasData) {
      eventType = '';
      return;
    }
    const event: { event: string; data: string; id?: string; retry?: number } = {
      event: eventType === '' ? 'message' : eventType,
      data: data.endsWith('\n') ? data.slice(0, -1) : data,
    };
    if (lastEventId !== '') event.id = lastEventId;
    if (retry !== undefined) event.retry = retry;
    out.push(event);
    eventType = '';
    data = '';
    hasData = false;
  }

  function processLine(line: string, out: SseEvent[]): void {
    if (line === '') {
      dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ':' */) return; // comment
    const colon = line.indexOf(':');
    if (colon === -1) {
      processField(line, '');
      return;
    }
    let value = line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20 /* ' ' */) value = value.slice(1);
    processField(line.slice(0, colon), value);
  }

  function consume(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    if (text === '') return out;
    if (atStreamStart) {
      atStreamStart = false;
      if (text.startsWith(BOM)) text = text.slice(1);
    }
    let start = 0;
    if (skipLeadingLf) {
      skipLeadingLf = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    let lineStart = start;
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== LF && code !== CR) continue;
      processLine(buffer + text.slice(lineStart, i), out);
      buffer = '';
      if (code === CR) {
        if (i + 1 === text.length) skipLeadingLf = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      lineStart = i + 1;
    }
    buffer += text.slice(lineStart);
    return out;
  }

  return {
    push(chunk) {
      if (typeof chunk === 'string') return consume(chunk);
      if (!decoderHolds && Buffer.isBuffer(chunk) && isAscii(chunk)) return consume(chunk.toString('latin1'));
      decoderHolds = chunk.length > 0 && chunk[chunk.length - 1]! >= 0x80;
      return consume(decoder.decode(chunk, { stream: true }));
    },
    end() {
      const out = consume(decoder.decode());
      buffer = '';
      data = '';
      hasData = false;
      eventType = '';
      return out;
    },
  };
}

/** Parses a byte stream (e.g. an HTTP response body) into events as they complete. */
export async function* parseSse(chunks: AsyncIterable<Uint8Array | string>): AsyncIterable<SseEvent> {
  const parser = createSseParser();
  for await (const chunk of chunks) {
    yield* parser.push(chunk);
  }
  yield* parser.end();
}
