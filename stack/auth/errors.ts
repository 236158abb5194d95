/**
 * Auth's refusals, in the two shapes GoTrue answers (github.com/supabase/auth
 * internal/api/errors.go, internal/api/apierrors/errorcode.go). A request with
 * `X-Supabase-Api-Version: 2024-01-01` or later (supabase-js sends it) gets
 * `{ "code": "<error_code>", "message": "…" }`; an older client gets
 * `{ "code": <status>, "error_code": "<error_code>", "msg": "…" }`. Every answer carries
 * `X-Supabase-Api-Version: 2024-01-01`, as GoTrue's do.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { corsHeaders, sendJson } from '../gateway/server.ts';

export const apiVersion = '2024-01-01';

export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Further fields GoTrue puts in the body (e.g. `weak_password: { reasons }`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** The error codes this service answers with, and their GoTrue status and message. */
export const refuse = {
  badJson: (detail: string) => new AuthError(400, 'bad_json', `Could not parse request body as JSON: ${detail}`),
  validation: (message: string) => new AuthError(400, 'validation_failed', message),
  invalidCredentials: () => new AuthError(400, 'invalid_credentials', 'Invalid login credentials'),
  unsupportedGrant: () => new AuthError(400, 'invalid_credentials', 'unsupported_grant_type'),
  refreshNotFound: () =>
    new AuthError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found'),
  refreshAlreadyUsed: () => new AuthError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used'),
  userExists: () => new AuthError(422, 'user_already_exists', 'User already registered'),
  emailExists: () => new AuthError(422, 'email_exists', 'A user with this email address has already been registered'),
  signupDisabled: () => new AuthError(422, 'signup_disabled', 'Signups not allowed for this instance'),
  emailProviderDisabled: () => new AuthError(422, 'email_provider_disabled', 'Email signups are disabled'),
  anonymousDisabled: () => new AuthError(422, 'anonymous_provider_disabled', 'Anonymous sign-ins are disabled'),
  phoneProviderDisabled: () => new AuthError(400, 'phone_provider_disabled', 'Unsupported phone provider'),
  emailSendingUnavailable: () =>
    new AuthError(422, 'email_provider_disabled', 'Email sending is not configured on the local stack (no SMTP)'),
  weakPassword: (message: string, reasons: string[]) =>
    new AuthError(422, 'weak_password', message, { weak_password: { reasons } }),
  noAuthorization: () => new AuthError(401, 'no_authorization', 'This endpoint requires a Bearer token'),
  badJwt: (detail: string) =>
    new AuthError(403, 'bad_jwt', `invalid JWT: unable to parse or verify signature, ${detail}`),
  sessionNotFound: () => new AuthError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist'),
  userNotFound: () => new AuthError(404, 'user_not_found', 'User not found'),
  notAdmin: () => new AuthError(403, 'not_admin', 'User not allowed'),
  notFound: (path: string) => new AuthError(404, 'not_found', `no route for ${path}`),
  methodNotAllowed: (method: string) => new AuthError(405, 'method_not_allowed', `${method} is not allowed here`),
  rateLimited: () => new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached'),
  payloadTooLarge: () => new AuthError(413, 'request_too_large', 'Request body too large'),
};

/** Whether the client asked for the 2024-01-01 error shape (or a later one). */
const wantsNamedCodes = (request: IncomingMessage) => {
  const header = request.headers['x-supabase-api-version'];
  const version = Array.isArray(header) ? header[0] : header;
  return typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= apiVersion;
};

/** GoTrue lets a browser read these (internal/api/api.go, its CORS handler); auth-js reads the version. */
const exposedHeaders = 'x-total-count, link, x-supabase-api-version';

export function sendAuthJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const versioned = {
    'x-supabase-api-version': apiVersion,
    'access-control-expose-headers': exposedHeaders,
    ...headers,
  };
  if (body !== undefined) return sendJson(response, status, body, versioned);
  if (response.headersSent) return;
  response.writeHead(status, { ...corsHeaders, ...versioned });
  response.end();
}

export function sendAuthError(request: IncomingMessage, response: ServerResponse, error: AuthError): void {
  const body = wantsNamedCodes(request)
    ? { code: error.code, message: error.message, ...error.extra }
    : { code: error.status, error_code: error.code, msg: error.message, ...error.extra };
  sendAuthJson(response, error.status, body, error.status === 429 ? { 'retry-after': '60' } : {});
}
