/**
 * Every error the local Realtime server can return, in one place. A step of the join pipeline (or
 * the handshake, or a token refresh) fails with a tagged error; `reasonFor` is the only function
 * that turns a tag into the platform's wire text. ERROR_CODES.md lists each code and when it occurs.
 */
import { JwtError } from '../identity/jwt.ts';
import { IdentityError } from '../identity/identify.ts';

export type RealtimeErrorCode =
  | 'InvalidJWTToken'
  | 'MalformedJWT'
  | 'JwtSignatureError'
  | 'TopicNameRequired'
  | 'ChannelRateLimitReached'
  | 'InvalidJoinPayload'
  | 'Unauthorized'
  | 'PrivateOnly'
  | 'UnableToReplayMessages'
  | 'MissingPartition'
  | 'UnableToConnectToProject'
  | 'UnknownError';

export class RealtimeError extends Error {
  readonly code: RealtimeErrorCode;
  constructor(code: RealtimeErrorCode, message: string) {
    super(message);
    this.name = 'RealtimeError';
    this.code = code;
  }
}

export const realtimeError = (code: RealtimeErrorCode, message: string) => new RealtimeError(code, message);

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Maps a failed token check (stack/identity/jwt.ts) to the platform's code and message. */
export function tokenError(error: unknown): RealtimeError {
  if (error instanceof RealtimeError) return error;
  if (error instanceof IdentityError) return realtimeError('InvalidJWTToken', error.message);
  if (!(error instanceof JwtError)) return realtimeError('UnknownError', 'Unexpected error while checking the token');
  switch (error.reason) {
    case 'expired':
      return realtimeError('InvalidJWTToken', capitalise(error.message));
    case 'claims':
      return realtimeError('InvalidJWTToken', 'Fields `role` and `exp` are required in JWT');
    case 'signature':
      return realtimeError('JwtSignatureError', 'Failed to validate JWT signature');
    case 'missing':
    case 'malformed':
      return realtimeError('MalformedJWT', 'The token provided is not a valid JWT');
  }
}

/** The `reason` of a join error reply: `"<Code>: <message>"`. */
export const reasonFor = (error: RealtimeError): string => `${error.code}: ${error.message}`;

/** HTTP status of a failed socket handshake, by code (ERROR_CODES.md, "Handshake"). */
export const handshakeStatus = (error: RealtimeError): number => (error.code === 'UnknownError' ? 500 : 401);
