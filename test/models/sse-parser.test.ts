import { describe, expect, it } from 'vitest';
import { createSseParser, parseSse, type SseEvent } from '../../src/models/sse-parser.js';

const encoder = new TextEncoder();

function parseAll(pieces: readonly (Uint8Array | string)[]): SseEvent[] {
  const parser = createSseParser();
  const out: SseEvent[] = [];
  for (const piece of pieces) out.push(...parser.push(piece));
  out.push(...parser.end());
  return out;
}

/** Every way of cutting `bytes` at one point, plus byte-by-byte. */
function splittings(bytes: Uint8Array): Uint8Array[][] {
  const result: Uint8Array[][] = [[bytes]];
  for (let cut = 1; cut < bytes.length; cut++) result.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  result.push(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
  return result;
}

describe('SSE parser (WHATWG event-stream interpretation)', () => {
  it('parses data, event and id fields and defaults the type to "message"', () => {
    const events = parseAll(['data: hello\n\nevent: add\ndata: 73857293\nid: 7\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'hello' },
      { event: 'add', data: '73857293', id: '7' },
    ]);
  });

  it('joins multi-line data with LF and strips exactly one leading space', () => {
    expect(parseAll(['data: YHOO\ndata: +2\ndata:  10\ndata\n\n'])).toEqual([
      { event: 'message', data: 'YHOO\n+2\n 10\n' },
    ]);
  });

  it('ignores comments and unknown fields, and a block without data dispatches nothing', () => {
    expect(parseAll([': keep-alive\n\nfoo: bar\n\nevent: x\n\ndata: y\n\n'])).toEqual([
      { event: 'message', data: 'y' },
    ]);
  });

  it('treats a field without a colon as a field with an empty value', () => {
    expect(parseAll(['data\ndata\n\n'])).toEqual([{ event: 'message', data: '\n' }]);
    expect(parseAll(['data\n\n'])).toEqual([{ event: 'message', data: '' }]);
  });

  it('accepts CRLF, CR and LF line endings, mixed', () => {
    expect(parseAll(['data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n'])).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
      { event: 'message', data: 'd' },
    ]);
  });

  it('strips one leading BOM only', () => {
    expect(parseAll([encoder.encode('\uFEFFdata: a\n\n')])).toEqual([{ event: 'message', data: 'a' }]);
    // A second BOM makes the first line's field name "\uFEFFdata", which is unknown.
    expect(parseAll([encoder.encode('\uFEFF\uFEFFdata: a\n\ndata: b\n\n')])).toEqual([
      { event: 'message', data: 'b' },
    ]);
  });

  it('keeps the last event id across events and ignores ids containing NUL', () => {
    const events = parseAll(['id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n']);
    expect(events.map((e) => e.id)).toEqual(['1', '1', '1', undefined]);
  });

  it('reports retry only when it is all ASCII digits', () => {
    const events = parseAll(['retry: 1500\ndata: a\n\nretry: 2s\ndata: b\n\n']);
    expect(events.map((e) => e.retry)).toEqual([1500, 1500]);
  });

  it('discards an event that is not terminated by a blank line at end of stream', () => {
    expect(parseAll(['data: complete\n\ndata: incomplete\n'])).toEqual([{ event: 'message', data: 'complete' }]);
  });

  it('gives the same events however the bytes are split, including inside UTF-8 characters and CRLF', () => {
    const text =
      '\uFEFF: comment\r\nevent: delta\r\ndata: {"content":"héllo 日本 🎉"}\r\n\r\n' +
      'data: line1\rdata: line2\r\rid: 42\ndata: [DONE]\n\n';
    const bytes = encoder.encode(text);
    const expected = [
      { event: 'delta', data: '{"content":"héllo 日本 🎉"}' },
      { event: 'message', data: 'line1\nline2' },
      { event: 'message', data: '[DONE]', id: '42' },
    ];
    for (const pieces of splittings(bytes)) {
      expect(parseAll(pieces)).toEqual(expected);
    }
  });

  it('gives the same events from Buffers (network reads), ASCII-only pieces and multi-byte ones alike, however split', () => {
    const text =
      '\uFEFFdata: {"content":"plain"}\n\n' +
      'data: {"content":"héllo 日本 🎉"}\r\n\r\n' +
      'data: {"content":"ascii again"}\n\n';
    const bytes = Buffer.from(text, 'utf8');
    const expected = [
      { event: 'message', data: '{"content":"plain"}' },
      { event: 'message', data: '{"content":"héllo 日本 🎉"}' },
      { event: 'message', data: '{"content":"ascii again"}' },
    ];
    for (const pieces of splittings(bytes)) {
      // subarray of a Buffer is a Buffer: these are pieces as undici hands them over.
      expect(pieces.every((piece) => Buffer.isBuffer(piece))).toBe(true);
      expect(parseAll(pieces)).toEqual(expected);
    }
  });

  it('a multi-byte character cut short and followed by ASCII-only reads decodes as the standard says (U+FFFD)', () => {
    const cut = Buffer.from('日', 'utf8').subarray(0, 2);
    expect(parseAll([Buffer.from('data: '), cut, Buffer.from('a\n\n'), Buffer.from('data: b\n\n')])).toEqual([
      { event: 'message', data: '\uFFFDa' },
      { event: 'message', data: 'b' },
    ]);
    // The same bytes through TextDecoder alone.
    expect(new TextDecoder().decode(Buffer.concat([cut, Buffer.from('a')]))).toBe('\uFFFDa');
  });

  it('a CR at the end of one read and an LF at the start of the next are one line break', () => {
    expect(parseAll(['data: a\r', '\n', 'data: b\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'a\nb' }]);
  });

  it('parseSse streams events from an async byte source as they complete', async () => {
    async function* source(): AsyncGenerator<Uint8Array> {
      yield encoder.encode('data: one\n');
      yield encoder.encode('\ndata: tw');
      yield encoder.encode('o\n\n');
    }
    const events: SseEvent[] = [];
    for await (const event of parseSse(source())) events.push(event);
    expect(events.map((e) => e.data)).toEqual(['one', 'two']);
  });
});
