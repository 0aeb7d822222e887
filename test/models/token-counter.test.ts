import { describe, expect, it } from 'vitest';
import {
  countMessageTokens,
  countTokens,
  estimateMessageTokens,
  estimateTokens,
  MAX_COUNTED_CHARS,
} from '../../src/models/token-counter.js';

describe('token counter (o200k_base via gpt-tokenizer, in a worker thread)', () => {
  it('counts real BPE tokens, not characters / 4', async () => {
    expect(await countTokens('')).toBe(0);
    expect(await countTokens('hello')).toBe(1);
    expect(await countTokens('Hello, world!')).toBe(4);
    // 40 characters of one repeated word: a chars/4 estimate says 10.
    expect(await countTokens('the the the the the the the the the the')).toBe(10);
    expect(await countTokens('supercalifragilisticexpialidocious')).toBeGreaterThan(3);
  });

  it('treats special-token text in user input as ordinary text instead of throwing', async () => {
    expect(await countTokens('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('adds the chat framing: 3 per message plus 3 for the reply', async () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hello, world!' },
    ];
    const expected =
      3 +
      (3 + (await countTokens('system')) + (await countTokens('Be brief.'))) +
      (3 + (await countTokens('user')) + (await countTokens('Hello, world!')));
    expect(await countMessageTokens(messages)).toBe(expected);
    expect(await countMessageTokens([])).toBe(3);
  });

  it('counts a text past the cap on its first MAX_COUNTED_CHARS characters, scaled to its length', async () => {
    const sentence = 'The quick brown fox jumps over the lazy dog. ';
    const long = sentence.repeat(Math.ceil((3 * MAX_COUNTED_CHARS) / sentence.length));
    const prefixCount = await countTokens(long.slice(0, MAX_COUNTED_CHARS));
    expect(await countTokens(long)).toBe(Math.round((prefixCount * long.length) / MAX_COUNTED_CHARS));
    // For text this regular, the scaled count is the exact one to within the tokens of one sentence.
    const exactPerSentence = (await countTokens(sentence.repeat(2))) - (await countTokens(sentence));
    expect(Math.abs((await countTokens(long)) - (exactPerSentence * long.length) / sentence.length)).toBeLessThanOrEqual(
      exactPerSentence,
    );
  });

  it('estimates in linear time with about 4 bytes of UTF-8 per token, framing included', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    // Three bytes per character in UTF-8.
    expect(estimateTokens('文字漢語')).toBe(3);
    expect(estimateMessageTokens([{ role: 'user', content: 'abcdefgh' }])).toBe(3 + 3 + 1 + 2);
  });
});
