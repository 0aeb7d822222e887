/**
 * An expected failure with a stable, machine-readable code. The GraphQL layer shows these to
 * clients as `extensions.code`; anything else is an unexpected error and is masked.
 */
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}
