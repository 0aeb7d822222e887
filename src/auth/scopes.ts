import type { ClientScope } from '../config/schema.js';
import { AccessError, hasScope, principalName, type Principal } from './principal.js';

/**
 * The one table of what each operation needs: GraphQL root fields by schema coordinate, the
 * OpenAI-compatible routes by name. A principal needs any one of the listed scopes (admin has all).
 * An operation missing here is admin-only, so a new field is closed until it is listed.
 */
const OPERATION_SCOPES: Readonly<Record<string, readonly ClientScope[]>> = {
  'Query.arms': ['read'],
  'Query.armsInContext': ['read'],
  'Query.contexts': ['read'],
  'Query.models': ['read'],
  'Query.cache': ['read'],
  'Query.analyzer': ['read'],
  // Names clients (key ids, addresses of callers without a key): for operators only.
  'Query.disagreeingClients': ['admin'],
  'Query.shadow': ['read'],
  // Reading one request also needs to own it (src/chat/chat-gate.ts).
  'Query.request': ['read'],
  'Query.shadowCall': ['read'],
  // Lists only the caller's own session (src/server/request-session.ts).
  'Query.recentRequests': ['chat', 'read'],
  'Subscription.chat': ['chat'],
  // A chat (on any transport) pinned to an arm, beside the chat scope (src/chat/chat-gate.ts).
  'chat.pinnedArm': ['pin'],
  'Subscription.metrics': ['read'],
  'Mutation.submitFeedback': ['feedback'],
  'Mutation.submitComparison': ['feedback'],
  'Mutation.setArmEnabled': ['admin'],
  'Mutation.invalidateCache': ['admin'],
  'Mutation.setShadowRate': ['admin'],
  'Mutation.warmStart': ['admin'],
  'openai.chatCompletions': ['chat'],
  'openai.models': ['chat', 'read'],
  'openai.feedback': ['feedback'],
  'http.metrics': ['read'],
};

/** Operations every authenticated caller may run (GraphQL introspection and `__typename`). */
const OPEN_FIELDS = new Set(['__typename', '__schema', '__type']);

export function knownOperations(): readonly string[] {
  return Object.keys(OPERATION_SCOPES);
}

export function requireScope(principal: Principal, operation: string): void {
  const field = operation.slice(operation.indexOf('.') + 1);
  if (OPEN_FIELDS.has(field)) return;
  const scopes = OPERATION_SCOPES[operation] ?? ['admin'];
  if (scopes.some((scope) => hasScope(principal, scope))) return;
  throw new AccessError(
    'FORBIDDEN',
    `${operation} needs the ${scopes.join(' or ')} scope, which ${principalName(principal)} does not have`,
  );
}
