/**
 * @module The one place the functions' errors are made, and the one place a database error is
 * classified.
 *
 * Every error a function answers with has an HTTP status and a stable machine `code` (listed in
 * `errorCodes`, documented in docs/functions.md). Clients branch on `code`, never on text. An error
 * the database raised is classified here (`classifyDatabaseError`): a transaction it rolled back of
 * its own accord may run again; a timeout or an exhausted resource is a retryable 503 with
 * Retry-After; a value it could not read is the client's 400. Anything else thrown that is not an
 * HttpError is a server fault: it is logged and answered with a generic 500, never with its message.
 */

export const errorCodes = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_cursor: 400,
  json_too_deep: 400,
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

export const invalidJson = (reason: string) =>
  new HttpError('invalid_json', `the request body is not valid JSON: ${reason}`);
export const invalidRequest = (details: unknown) =>
  new HttpError('invalid_request', 'the request does not have the expected shape', { details });
export const invalidCursor = () =>
  new HttpError('invalid_cursor', 'the cursor is not one this server handed out; pull again without a cursor');
export const unauthorized = (message: string) => new HttpError('unauthorized', message);
export const userTokenRequired = (role: string) =>
  new HttpError('user_token_required', `a signed-in user's access token is required, not a token of role ${role}`);
export const jsonTooDeep = (maxDepth: number) =>
  new HttpError('json_too_deep', `the request body nests arrays and objects more than ${maxDepth} levels deep`, {
    details: { max_depth: maxDepth },
  });
/** Every function also answers OPTIONS (CORS preflight), so Allow names it too. */
export const methodNotAllowed = (method: string, allowed: string[]) =>
  new HttpError('method_not_allowed', `${method.slice(0, 32)} is not served here; use ${allowed.join(' or ')}`, {
    headers: { allow: [...allowed, 'OPTIONS'].join(', ') },
  });
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
  new HttpError(
    'service_unavailable',
    `the database was busy (${cause}) and nothing was applied; retry the same request`,
    {
      headers: { 'retry-after': String(retryAfterSeconds) },
    },
  );
export const valueRefused = (reason: string) =>
  new HttpError('invalid_request', `the database could not read a value of the request: ${reason}`);
export const memoryNotFound = () => new HttpError('memory_not_found', 'no memory of yours has that id');

/** `['push', 3, 'fields', 'title']` → `push[3].fields.title`. */
export function formatPath(path: (string | number)[]): string {
  return (
    path.reduce<string>(
      (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part),
      '',
    ) || 'the body'
  );
}

// Database errors ----------------------------------------------------------------------------------

/** What the Retry-After of a 503 says, in seconds. */
export const retryAfterSeconds = {
  /** After a transaction the database cancelled (deadlock, serialization, lost connection). */
  cancelled: 1,
  /** After a timeout or an exhausted resource: the database is loaded, so the client waits longer. */
  busy: 2,
} as const;

/**
 * What a database error means for the request:
 * - `cancelled`: PostgreSQL rolled the transaction back of its own accord (40001 serialization
 *   failure, 40P01 deadlock victim) or the connection went away (57P01-57P03 shutdown, class 08, the
 *   driver's own codes); running the same transaction again is safe (receipts) and usually succeeds;
 * - `busy`: the work did not finish in time or found no room: 57014 (statement_timeout, or a
 *   cancel), 55P03 (a lock wait given up), class 53 (no connection slot, memory, disk). The
 *   transaction rolled back, so nothing was applied; retrying at once would only add load, so it
 *   is answered 503 with Retry-After for the client to retry;
 * - `invalid_value`: class 22, a value the database could not read (a cast that failed, a number
 *   out of range): the request's fault, a 400;
 * - undefined: anything else, a server fault.
 */
export type DatabaseErrorKind = 'cancelled' | 'busy' | 'invalid_value';

const cancelledStates = new Set(['40001', '40P01', '57P01', '57P02', '57P03']);
const busyStates = new Set(['57014', '55P03']);
/** postgres.js's own codes (and Node's) for a connection that went away or never came. */
const connectionLost = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
]);

export function classifyDatabaseError(error: unknown): DatabaseErrorKind | undefined {
  if (error instanceof HttpError) return undefined;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (cancelledStates.has(code) || code.startsWith('08') || connectionLost.has(code)) return 'cancelled';
  if (busyStates.has(code) || code.startsWith('53')) return 'busy';
  if (code.startsWith('22') && code.length === 5) return 'invalid_value';
  return undefined;
}

/**
 * The answer to an error that is not an HttpError, or undefined when it is a server fault (a 500).
 * `invalidValue` says what a value the database could not read means where the error came from
 * (a pull answers invalid_cursor); by default it is a 400 invalid_request.
 */
export function answerFor(error: unknown, invalidValue?: () => HttpError): HttpError | undefined {
  const kind = classifyDatabaseError(error);
  const code = (error as { code?: string } | null)?.code ?? '';
  if (kind === 'cancelled') return serviceUnavailable(retryAfterSeconds.cancelled, code);
  if (kind === 'busy') return serviceUnavailable(retryAfterSeconds.busy, busyCause(code));
  if (kind === 'invalid_value')
    return invalidValue?.() ?? valueRefused(String((error as Error).message ?? code).slice(0, 200));
  return undefined;
}

function busyCause(code: string): string {
  if (code === '57014') return 'statement timeout';
  if (code === '55P03') return 'lock wait timeout';
  return code;
}
