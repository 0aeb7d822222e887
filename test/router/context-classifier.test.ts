import { describe, expect, it } from 'vitest';
import { classifyTask, createContextClassifier } from '../../src/router/context-classifier.js';

const user = (content: string) => [{ role: 'user' as const, content }];

describe('context classifier', () => {
  it('uses tags as a path, general to specific', () => {
    const classify = createContextClassifier();
    expect(classify(user('anything'), [' MMLU ', 'abstract_algebra', 'mmlu'])).toBe('mmlu/abstract_algebra');
    expect(classify(user('anything'), ['a/b'])).toBe('a-b');
  });

  it.each([
    ['Write a python function to count inversions in an array.', 'code'],
    ['Fix this:\n```js\nconst x = 1\n```', 'code'],
    ['Which is a mammal?\nA) shark\nB) whale\nC) trout\nD) eel\nAnswer:', 'multiple-choice'],
    ['The trophy does not fit in the suitcase because the _ is too big.\nA) trophy\nB) suitcase\nAnswer:', 'binary-choice'],
    ['James runs 3 sprints 3 times a week, 60 meters each. How many meters does he run a week?', 'math'],
    ['Write a short poem about autumn leaves.', 'writing'],
    ['Please summarize the following article in three sentences.', 'summarization'],
    ['Translate "good morning" into French.', 'translation'],
    ['Hi! How are you today?', 'chat'],
  ])('classifies %j as %s', (prompt, task) => {
    expect(classifyTask(prompt)).toBe(task);
  });

  it('reads escaped line breaks of logged prompts as line breaks', () => {
    expect(classifyTask('Q?\\nA) one\\nB) two\\nC) three\\nAnswer:')).toBe('multiple-choice');
  });

  it('appends a length band unless disabled', () => {
    const banded = createContextClassifier({ lengthBands: true, shortTokens: 10, mediumTokens: 100 });
    expect(banded(user('Hi there'), undefined)).toBe('chat/short');
    expect(banded(user('Hi there. '.repeat(20)), [])).toBe('chat/medium');
    expect(banded(user('Hi there. '.repeat(60)), undefined)).toBe('chat/long');
    const plain = createContextClassifier({ lengthBands: false, shortTokens: 10, mediumTokens: 100 });
    expect(plain(user('Hi there'), undefined)).toBe('chat');
  });
});
