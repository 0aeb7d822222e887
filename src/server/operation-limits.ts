import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLArmorRejectCallback } from '@escape.tech/graphql-armor-types';
import { Lexer, Source, TokenKind, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { OperationLimitsConfig } from '../config/schema.js';
import { userError } from '../graphql/errors.js';

/**
 * Bounds the work one GraphQL operation can ask for, before it runs: tokens (checked while parsing,
 * so a huge or deeply nested document stops at the limit instead of being parsed whole: the parser
 * recurses once per nesting level), directives, aliases, depth and cost (GraphQL Armor's rules).
 *
 * It is a yoga (envelop) plugin, so it holds on every transport: HTTP and SSE run yoga's pipeline
 * themselves, graphql-ws and graphql-sse's single-connection mode parse and validate through
 * yoga's enveloped functions (see enveloped-operation.ts).
 *
 * A refusal is an ordinary GraphQL request error with `extensions.code` OPERATION_LIMIT_EXCEEDED and
 * the limit it hit (`extensions.limit`, `extensions.max`): a validation error at parse or validation,
 * never a 500 and never a closed WebSocket.
 *
 * graphql-js parses recursively, a few stack frames per level of brackets, so a document nested a
 * couple of thousand levels deep (`[[[[…` well inside the token limit) overflows the stack before
 * any rule sees it. Brackets nested deeper than {@link MAX_NESTING} are therefore refused before
 * parsing, by a pass of the (iterative) lexer over at most maxTokens tokens.
 *
 * Fragments count as their fields (`flattenFragments`): depth and cost are those of the selections
 * the operation would execute, not of how its author split them.
 */

export const OPERATION_LIMIT_CODE = 'OPERATION_LIMIT_EXCEEDED';

/**
 * Deepest nesting of `{`, `[` and `(` a document may have. Selections are bounded far below by
 * maxDepth; this bounds input values (objects and lists) too, and keeps the parser's recursion a
 * small fraction of the stack.
 */
export const MAX_NESTING = 64;

type LimitName = keyof OperationLimitsConfig | 'nesting';

/**
 * Armor reports a refusal as a message ("Syntax Error: Aliases limit of 15 exceeded, found 16.");
 * the coded error keeps that message without the misleading "Syntax Error" prefix.
 */
function coded(limit: LimitName, max: number, message: string) {
  return userError(OPERATION_LIMIT_CODE, message.replace(/^Syntax Error: /, ''), { limit, max });
}

/** Validation rules report into the validation context (an error in the list, validation goes on). */
function report(limit: LimitName, max: number): GraphQLArmorRejectCallback {
  return (context: ValidationContext | null, error) => {
    context?.reportError(coded(limit, max, error.message));
  };
}

/** Throws when `text` nests brackets deeper than MAX_NESTING within its first `maxTokens` tokens. */
function refuseDeepNesting(text: string, maxTokens: number): void {
  const lexer = new Lexer(new Source(text));
  let nesting = 0;
  for (let tokens = 0; tokens <= maxTokens; tokens++) {
    let kind;
    try {
      kind = lexer.advance().kind;
    } catch {
      return; // a syntax error is the parser's to report, with its position
    }
    if (kind === TokenKind.EOF) return;
    if (kind === TokenKind.BRACE_L || kind === TokenKind.BRACKET_L || kind === TokenKind.PAREN_L) {
      if (++nesting > MAX_NESTING) throw coded('nesting', MAX_NESTING, `Brackets nested deeper than ${MAX_NESTING} levels.`);
    } else if (kind === TokenKind.BRACE_R || kind === TokenKind.BRACKET_R || kind === TokenKind.PAREN_R) {
      nesting--;
    }
  }
}

export function useOperationLimits(limits: OperationLimitsConfig): Plugin {
  const rule = (limit: Exclude<LimitName, 'maxTokens' | 'nesting'>) => ({
    n: limits[limit],
    onReject: [report(limit, limits[limit])],
    propagateOnRejection: false,
  });
  const armor = EnvelopArmorPlugin({
    maxTokens: {
      n: limits.maxTokens,
      // The token count is checked inside the parser, which has no validation context: the callback
      // throws, which stops parsing at the token past the limit.
      onReject: [
        (_context, error) => {
          throw coded('maxTokens', limits.maxTokens, error.message);
        },
      ],
    },
    maxDirectives: rule('maxDirectives'),
    maxAliases: rule('maxAliases'),
    maxDepth: { ...rule('maxDepth'), flattenFragments: true },
    costLimit: {
      maxCost: limits.maxCost,
      onReject: [report('maxCost', limits.maxCost)],
      propagateOnRejection: false,
      flattenFragments: true,
    },
    // Field suggestions ("Did you mean …") stay: the schema is public (introspection is on).
    blockFieldSuggestion: { enabled: false },
  }) as Plugin;
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor);
      // Added after armor's token-limited parser, so it wraps that parser.
      addPlugin({
        onParse({ parseFn, setParseFn }) {
          setParseFn((source, options) => {
            refuseDeepNesting(typeof source === 'string' ? source : source.body, limits.maxTokens);
            return parseFn(source, options);
          });
        },
      });
    },
  };
}
