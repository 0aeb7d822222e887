import type { ClassifierConfig } from '../config/schema.js';
import type { ChatMessage } from '../models/backend.js';
import { CONTEXT_SEPARATOR } from './bandit.js';

/**
 * Names the context a request is routed in.
 *
 * Explicit tags win. They are read general to specific and form a path: ['mmlu', 'algebra'] is
 * context 'mmlu/algebra', which borrows strength from 'mmlu' (see bandit.ts).
 *
 * Without tags a light classifier reads the last user message: a task type from surface cues
 * (code, math, multiple-choice, binary-choice, writing, summarization, translation, chat), then
 * optionally a length band: 'multiple-choice/medium'. It is a few regular expressions over at
 * most a few kilobytes — microseconds per request — and deliberately coarse: each extra context
 * costs exploration, and the hierarchy lets a band fall back on its task type while it is young.
 */
export type ContextClassifier = (messages: readonly ChatMessage[], tags: readonly string[] | undefined) => string;

export type TaskType =
  | 'code'
  | 'math'
  | 'multiple-choice'
  | 'binary-choice'
  | 'writing'
  | 'summarization'
  | 'translation'
  | 'chat';

export const DEFAULT_CLASSIFIER_CONFIG: ClassifierConfig = { lengthBands: true, shortTokens: 128, mediumTokens: 1_024 };

/** Options of the final question sit near the end of a (possibly few-shot) prompt. */
const QUESTION_TAIL_CHARS = 1_200;
/** Enough text to recognise any of the cues; longer prompts are cut for speed. */
const CLASSIFIED_CHARS = 8_000;

const CODE_CUES: readonly RegExp[] = [
  /```/,
  /\b(def|class|function|import|return|const|let|var|public|static|void|#include|select\s+\*?\s*from)\b.*[(:{;=]/i,
  /\bwrite (a|an|the)?\s*(python|java(script)?|typescript|c\+\+|c#|rust|go|sql|bash|shell)?\s*(function|program|script|class|method|query|regex|code)\b/i,
  /\b(python|javascript|typescript|java|c\+\+|rust|golang|sql|regex|compiler?|stack ?trace|exception|bug|refactor|unit tests?)\b/i,
];

const MATH_CUES: readonly RegExp[] = [
  /\b(how (many|much)|calculate|compute|solve|equation|integral|derivative|probability|percent(age)?|sum of|product of|remainder|what is \d)/i,
  /\d+\s*[-+*/^×÷=<>]\s*\d+/,
  /\$\s?\d|\d+(\.\d+)?\s?%/,
];

const WRITING_CUE =
  /\b(write|draft|compose|create)\b.{0,40}\b(story|poem|essay|letter|e-?mail|blog|article|speech|song|lyrics|post|tweet|slogan|description|cover letter)\b/i;
const SUMMARY_CUE = /\b(summari[sz]e|summary|tl;?dr|key points)\b/i;
const TRANSLATION_CUE = /\btranslate\b|\b(in|into|to) (english|french|spanish|german|chinese|japanese|italian|portuguese|russian)\b/i;
const BINARY_CUE = /\b(true or false|yes or no|agree or disagree)\b/i;

/** Distinct option letters in the last question ("A) ...", "(B) ...", "C. ...", "D: ..."), one per line. */
const OPTION_LINE = /^\s*\(?([A-J])[).:]\s+\S/gm;

function optionCount(tail: string): number {
  // One bit per letter A..J seen; the regular expression is shared, so reset its position.
  let letters = 0;
  OPTION_LINE.lastIndex = 0;
  for (let match = OPTION_LINE.exec(tail); match !== null; match = OPTION_LINE.exec(tail)) {
    letters |= 1 << (match[1]!.charCodeAt(0) - 65);
  }
  // Options run A, B, C...: count the unbroken run so a stray "I. " line is not a ten-way question.
  let count = 0;
  while (letters & (1 << count)) count++;
  return count;
}

/**
 * Prompts logged or forwarded as escaped strings carry a backslash and "n" instead of line breaks; reading them
 * as line breaks lets the line-based cues work on both.
 */
function unescapeLineBreaks(text: string): string {
  return text.includes('\n') ? text : text.replace(/(\\r)?\\n/g, '\n');
}

export function classifyTask(text: string): TaskType {
  const cut = text.length > CLASSIFIED_CHARS ? text.slice(-CLASSIFIED_CHARS) : text;
  const sample = unescapeLineBreaks(cut);
  const tail = sample.slice(-QUESTION_TAIL_CHARS);
  const options = optionCount(tail);
  if (options >= 3) return 'multiple-choice';
  if (options === 2 || BINARY_CUE.test(tail)) return 'binary-choice';
  if (CODE_CUES.some((cue) => cue.test(sample))) return 'code';
  if (TRANSLATION_CUE.test(tail)) return 'translation';
  if (SUMMARY_CUE.test(tail)) return 'summarization';
  if (WRITING_CUE.test(tail)) return 'writing';
  if (MATH_CUES.some((cue) => cue.test(tail)) && /\d/.test(tail)) return 'math';
  return 'chat';
}

function lengthBand(chars: number, config: ClassifierConfig): 'short' | 'medium' | 'long' {
  // ~4 characters per token for English; the bands are coarse enough not to need a tokenizer.
  const tokens = chars / 4;
  if (tokens <= config.shortTokens) return 'short';
  if (tokens <= config.mediumTokens) return 'medium';
  return 'long';
}

/** A tag as a path segment: trimmed, lower-case, without the separator. */
function normalizeTag(tag: string): string {
  return tag.trim().toLowerCase().split(CONTEXT_SEPARATOR).join('-');
}

export function createContextClassifier(config: ClassifierConfig = DEFAULT_CLASSIFIER_CONFIG): ContextClassifier {
  return (messages, tags) => {
    if (tags !== undefined && tags.length > 0) {
      const path = [...new Set(tags.map(normalizeTag).filter((t) => t.length > 0))];
      if (path.length > 0) return path.join(CONTEXT_SEPARATOR);
    }
    let lastUser = messages[messages.length - 1];
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i]!.role === 'user') {
        lastUser = messages[i];
        break;
      }
    }
    const text = lastUser?.content ?? '';
    const task = classifyTask(text);
    return config.lengthBands ? `${task}${CONTEXT_SEPARATOR}${lengthBand(text.length, config)}` : task;
  };
}
