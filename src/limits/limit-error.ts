import { CodedError } from '../coded-error.js';

export type LimitErrorCode = 'RATE_LIMITED' | 'BUDGET_EXHAUSTED' | 'OVERLOADED' | 'TOO_MANY_SUBSCRIPTIONS' | 'TOO_MANY_CONNECTIONS';

/** A limit refused the request; `details.retryAfter` says in whole seconds when to try again. */
export class LimitError extends CodedError<LimitErrorCode> {
  override readonly name = 'LimitError';
  readonly retryAfterSeconds: number;

  constructor(code: LimitErrorCode, message: string, retryAfterMs: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(code, `${message}; retry in ${retryAfter} s`, { retryAfter });
    this.retryAfterSeconds = retryAfter;
  }
}
