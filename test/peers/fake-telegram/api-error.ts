// A Bot API failure: becomes `{ok:false, error_code, description, parameters?}` with the same HTTP status.

export interface ResponseParameters {
  /** Seconds to wait before repeating the call (429 only). */
  retry_after?: number;
  migrate_to_chat_id?: number;
}

export class ApiError extends Error {
  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly parameters?: ResponseParameters,
  ) {
    super(description);
    this.name = 'ApiError';
  }

  toBody(): Record<string, unknown> {
    return { ok: false, error_code: this.errorCode, description: this.description, ...(this.parameters ? { parameters: this.parameters } : {}) };
  }
}

/** 400 with the Bot API's "Bad Request: " prefix. */
export function badRequest(what: string): ApiError {
  return new ApiError(400, `Bad Request: ${what}`);
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(429, `Too Many Requests: retry after ${retryAfterSeconds}`, { retry_after: retryAfterSeconds });
}

export const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
