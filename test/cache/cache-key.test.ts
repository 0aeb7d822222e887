import { describe, expect, it } from 'vitest';
import { createCacheManager } from '../../src/cache/cache-manager.js';
import { normaliseContent, scopePrefix } from '../../src/cache/cache-key.js';
import { createSilentLogger } from '../../src/logger.js';
import { cacheConfig } from './cache-test-kit.js';

function manager(section: Record<string, unknown> = {}) {
  return createCacheManager({ config: cacheConfig(section), redis: null, keyPrefix: 't:', logger: createSilentLogger() });
}

const question = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is the capital of France?' },
] as const;

describe('cache keys', () => {
  it('ignore whitespace that cannot change the answer', () => {
    const cache = manager();
    const base = cache.keyFor({ messages: question, temperature: 0, maxTokens: 100 });
    const spaced = cache.keyFor({
      messages: [
        { role: 'system', content: '  You are terse.\r\n' },
        { role: 'user', content: '\n\tWhat is the capital of France?   \n' },
      ],
      temperature: 0,
      maxTokens: 100,
    });
    expect(base).not.toBeNull();
    expect(spaced).toBe(base);
  });

  it('keep inner spacing, which can be meaning (code indentation)', () => {
    expect(normaliseContent('def f():\r\n    return 1   \n')).toBe('def f():\n    return 1');
    const cache = manager();
    const a = cache.keyFor({ messages: [{ role: 'user', content: 'a  b' }] });
    const b = cache.keyFor({ messages: [{ role: 'user', content: 'a b' }] });
    expect(a).not.toBe(b);
  });

  it('split on role, content, temperature, maxTokens and pinned arm', () => {
    const cache = manager();
    const base = cache.keyFor({ messages: question, temperature: 0.2, maxTokens: 100 });
    const variants = [
      cache.keyFor({ messages: question, temperature: 0.3, maxTokens: 100 }),
      cache.keyFor({ messages: question, maxTokens: 100 }),
      cache.keyFor({ messages: question, temperature: 0.2, maxTokens: 101 }),
      cache.keyFor({ messages: question, temperature: 0.2, maxTokens: 100, arm: 'flash' }),
      cache.keyFor({ messages: [{ role: 'user', content: 'You are terse.' }, question[1]], temperature: 0.2, maxTokens: 100 }),
      cache.keyFor({ messages: [question[1]], temperature: 0.2, maxTokens: 100 }),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('put the pinned arm in a prefix usable for invalidation', () => {
    const cache = manager();
    expect(cache.keyFor({ messages: question, arm: 'flash' })).toMatch(/^arm\/flash\/[0-9a-f]{64}$/);
    expect(cache.keyFor({ messages: question })).toMatch(/^any\/[0-9a-f]{64}$/);
    expect(scopePrefix('flash')).toBe('arm/flash/');
    expect(scopePrefix(undefined)).toBe('any/');
  });

  it('do not split on tags unless configured', () => {
    const plain = manager();
    expect(plain.keyFor({ messages: question, tags: ['a'] })).toBe(plain.keyFor({ messages: question, tags: ['b', 'c'] }));
    const tagged = manager({ keyIncludesTags: true });
    expect(tagged.keyFor({ messages: question, tags: ['a'] })).not.toBe(tagged.keyFor({ messages: question, tags: ['b'] }));
    // Order and duplicates of tags carry no meaning.
    expect(tagged.keyFor({ messages: question, tags: ['b', 'a', 'a'] })).toBe(tagged.keyFor({ messages: question, tags: ['a', 'b'] }));
  });

  it('are null above the temperature threshold unless high temperatures are cached', () => {
    const cache = manager({ maxTemperature: 0.5 });
    expect(cache.keyFor({ messages: question, temperature: 0.5 })).not.toBeNull();
    expect(cache.keyFor({ messages: question, temperature: 0.51 })).toBeNull();
    expect(manager({ maxTemperature: 0.5, cacheHighTemperature: true }).keyFor({ messages: question, temperature: 1.5 })).not.toBeNull();
  });

  it('are null when the cache is disabled', () => {
    const cache = manager({ enabled: false });
    expect(cache.keyFor({ messages: question, temperature: 0 })).toBeNull();
    expect(cache.status()).toBe('disabled');
  });
});
