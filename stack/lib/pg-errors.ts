/**
 * What a failed PostgreSQL call means, in one place: every part of the stack that must tell "ask
 * again later" from "the database said no" asks `classifyPgError`, by SQLSTATE class (PostgreSQL's
 * "Appendix A. PostgreSQL Error Codes"), never by message text.
 *
 *   retryable   nothing was decided: the connection failed or was refused (too many connections),
 *               the server is shutting down or out of resources, the statement was cancelled, or
 *               it lost a serialization race or a deadlock. The same call later may succeed.
 *   refused     the database's access rules refused the subject: no privilege, an invalid
 *               authorization or role, a policy (or a function it calls) that raised.
 *   bad-request the statement or its values were refused: a value not of its type, a constraint,
 *               an unknown column or function, a write in a read-only session, a limit exceeded.
 *               Asking again gets the same answer.
 *   server-bug  PostgreSQL's own internal error (class XX), or a class we do not know.
 *
 * postgres.js sets `code` to the SQLSTATE for an error the server sent; its own errors (a connection
 * that closed or timed out) carry codes like `CONNECTION_CLOSED`, and socket errors carry `ECONNRESET`
 * and the like: none of those is a SQLSTATE, and all of them are retryable.
 */

export type PgErrorKind = 'retryable' | 'refused' | 'bad-request' | 'server-bug';

/** SQLSTATEs the stack names on their own. */
export const SQLSTATE = {
  /** 42501: no privilege, or a row refused by a row level security policy's WITH CHECK. */
  insufficientPrivilege: '42501',
  /** 23514: a CHECK failed; on a partitioned table such as realtime.messages, no partition holds the row. */
  checkViolation: '23514',
  /** 53300: the server refused a new connection. */
  tooManyConnections: '53300',
} as const;

/** The SQLSTATE of an error PostgreSQL sent, or undefined for any other failure. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const RETRYABLE_CLASSES = new Set(['08', '40', '53', '57', '58', '72']);
const REFUSED_CLASSES = new Set(['28', '0L', '0P', '44', 'P0']);
const BAD_REQUEST_CLASSES = new Set([
  '03',
  '09',
  '0A',
  '0B',
  '0F',
  '0Z',
  '20',
  '21',
  '22',
  '23',
  '24',
  '25',
  '26',
  '27',
  '2B',
  '2D',
  '2F',
  '34',
  '38',
  '39',
  '3B',
  '3D',
  '3F',
  '42',
  '54',
  '55',
  'HV',
]);

export function classifyPgError(error: unknown): PgErrorKind {
  const state = sqlState(error);
  if (state === undefined) return 'retryable';
  if (state === SQLSTATE.insufficientPrivilege) return 'refused';
  // 55P03: a lock could not be had at once (NOWAIT, lock_timeout): another moment may have it.
  if (state === '55P03') return 'retryable';
  const sqlClass = state.slice(0, 2);
  if (RETRYABLE_CLASSES.has(sqlClass)) return 'retryable';
  if (REFUSED_CLASSES.has(sqlClass)) return 'refused';
  if (BAD_REQUEST_CLASSES.has(sqlClass)) return 'bad-request';
  return 'server-bug';
}

/** PostgreSQL answered the call, and asking again gets the same answer. */
export const isAnswer = (error: unknown): boolean => {
  const kind = classifyPgError(error);
  return kind === 'refused' || kind === 'bad-request';
};
