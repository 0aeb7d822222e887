import { CodedError } from '../coded-error.js';

export type OpenAIRequestErrorCode = 'INVALID_REQUEST' | 'UNSUPPORTED_PARAMETER' | 'MODEL_NOT_FOUND' | 'NOT_FOUND' | 'BODY_TOO_LARGE';

/** A request the OpenAI-compatible API cannot take as sent; `param` names the offending field. */
export class OpenAIRequestError extends CodedError<OpenAIRequestErrorCode> {
  override readonly name = 'OpenAIRequestError';
  constructor(
    code: OpenAIRequestErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(code, message);
  }
}
