/**
 * @module The one place the functions' errors are made.
 *
 * Every error a function answers with has an HTTP status and a stable machine `code` (listed in
 * `errorCodes`, documented in README "Sync protocol"). Clients branch on `code`, never on text.
 * Anything thrown that is not an HttpError is a server fault: it is logged and answered with a
 * generic 500, never with its message.
 */

export const errorCodes = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_cursor: 400,
  unstorable_text: 400,
  unauthorized: 401,
  user_token_required: 401,
  memory_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  batch_too_large: 413,
  unsupported_media_type: 415,
  service_unavailable: 503,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
}

export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.status = errorCodes[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

export const invalidJson = (reason: string) => new HttpError('invalid_json', `the request body is not valid JSON: ${reason}`);
export const invalidRequest = (details: unknown) =>
  new HttpError('invalid_request', 'the request does not have the expected shape', { details });
export const invalidCursor = () =>
  new HttpError('invalid_cursor', 'the cursor is not one this server handed out; pull again without a cursor');
export const unauthorized = (message: string) => new HttpError('unauthorized', message);
export const userTokenRequired = (role: string) =>
  new HttpError('user_token_required', `a signed-in user's access token is required, not a token of role ${role}`);
export const methodNotAllowed = (allowed: string[]) =>
  new HttpError('method_not_allowed', `use ${allowed.join(' or ')}`, { headers: { allow: allowed.join(', ') } });
export const payloadTooLarge = (limitBytes: number) =>
  new HttpError('payload_too_large', `the request body is larger than ${limitBytes} bytes`);
export const batchTooLarge = (items: number, limit: number) =>
  new HttpError('batch_too_large', `the batch has ${items} items; at most ${limit} are accepted per request`);
export const unsupportedMediaType = () => new HttpError('unsupported_media_type', 'send the body as application/json');
export const unstorableText = (path: (string | number)[], problem: 'nul_character' | 'lone_surrogate') =>
  new HttpError(
    'unstorable_text',
    problem === 'nul_character'
      ? `${formatPath(path)} contains a NUL character (\\u0000), which cannot be stored`
      : `${formatPath(path)} contains half of a UTF-16 surrogate pair, which cannot be stored`,
    { details: { path, problem } },
  );
export const serviceUnavailable = (retryAfterSeconds: number, cause: string) =>
  new HttpError('service_unavailable', `the database was busy (${cause}) and nothing was applied; retry the same request`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
export const memoryNotFound = () => new HttpError('memory_not_found', 'no memory of yours has that id');

/** `['push', 3, 'fields', 'title']` → `push[3].fields.title`. */
export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part), '') || 'the body';
}
