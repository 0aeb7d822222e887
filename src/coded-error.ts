/**
 * An expected failure with a stable, machine-readable code. The GraphQL layer shows these to
 * clients as `extensions.code` (with `details` beside it); anything else is an unexpected error
 * and is masked.
 */
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    /** Machine-readable facts a client can act on (e.g. `retryAfter` in seconds). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}
