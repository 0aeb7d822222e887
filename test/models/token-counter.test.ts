import { describe, expect, it } from 'vitest';
import { countMessageTokens, countTokens } from '../../src/models/token-counter.js';

describe('token counter (o200k_base via js-tiktoken)', () => {
  it('counts real BPE tokens, not characters / 4', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello')).toBe(1);
    expect(countTokens('Hello, world!')).toBe(4);
    // 40 characters of one repeated word: a chars/4 estimate says 10.
    expect(countTokens('the the the the the the the the the the')).toBe(10);
    expect(countTokens('supercalifragilisticexpialidocious')).toBeGreaterThan(3);
  });

  it('treats special-token text in user input as ordinary text instead of throwing', () => {
    expect(countTokens('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('adds the chat framing: 3 per message plus 3 for the reply', () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hello, world!' },
    ];
    const expected =
      3 + (3 + countTokens('system') + countTokens('Be brief.')) + (3 + countTokens('user') + countTokens('Hello, world!'));
    expect(countMessageTokens(messages)).toBe(expected);
    expect(countMessageTokens([])).toBe(3);
  });
});
