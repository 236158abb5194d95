import type { Sql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { authorizePrivate } from '../realtime/joins/join.ts';
import { RealtimeError, reasonFor } from '../realtime/errors.ts';
import { classifyPgError, isAnswer, type PgErrorKind, sqlState } from './pg-errors.ts';

/** An error as postgres.js raises it: `code` is the SQLSTATE when the server sent one. */
const pgError = (code: string | undefined, message = 'failed') =>
  Object.assign(new Error(message), code === undefined ? {} : { code });

const UNAUTHORIZED = 'Unauthorized: You do not have permissions to read from this Channel topic: room';
const UNREACHABLE = 'UnableToConnectToProject: Realtime was unable to connect to the project database';
const NO_PARTITION = 'MissingPartition: Realtime was unable to find the expected messages partition';

/**
 * Each row: the error, its kind, what a private join answers (join.ts), and whether the RLS check
 * of delivery (visibility.ts) takes it as the database's answer (the rows are not visible) or
 * retries the batch.
 */
const table: [
  what: string,
  code: string | undefined,
  kind: PgErrorKind,
  join: string,
  delivery: 'not visible' | 'retried',
][] = [
  ['socket reset (no SQLSTATE)', 'ECONNRESET', 'retryable', UNREACHABLE, 'retried'],
  ['postgres.js: connection closed', 'CONNECTION_CLOSED', 'retryable', UNREACHABLE, 'retried'],
  ['no code at all', undefined, 'retryable', UNREACHABLE, 'retried'],
  ['08006 connection_failure', '08006', 'retryable', UNREACHABLE, 'retried'],
  ['53300 too_many_connections', '53300', 'retryable', UNREACHABLE, 'retried'],
  ['53200 out_of_memory', '53200', 'retryable', UNREACHABLE, 'retried'],
  ['57P01 admin_shutdown', '57P01', 'retryable', UNREACHABLE, 'retried'],
  ['57P03 cannot_connect_now (starting up)', '57P03', 'retryable', UNREACHABLE, 'retried'],
  ['57014 query_canceled', '57014', 'retryable', UNREACHABLE, 'retried'],
  ['40001 serialization_failure', '40001', 'retryable', UNREACHABLE, 'retried'],
  ['40P01 deadlock_detected', '40P01', 'retryable', UNREACHABLE, 'retried'],
  ['55P03 lock_not_available', '55P03', 'retryable', UNREACHABLE, 'retried'],
  ['42501 insufficient_privilege', '42501', 'refused', UNAUTHORIZED, 'not visible'],
  ['P0001 a policy that raises', 'P0001', 'refused', UNAUTHORIZED, 'not visible'],
  ['28000 invalid_authorization_specification', '28000', 'refused', UNAUTHORIZED, 'not visible'],
  ['22P02 a value not of the key’s type', '22P02', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['22023 invalid_parameter_value (unknown role in set_config)', '22023', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['23514 check_violation (no partition of realtime.messages)', '23514', 'bad-request', NO_PARTITION, 'not visible'],
  ['42883 undefined_function in a policy', '42883', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['42P01 undefined_table', '42P01', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['21000 a policy’s subquery returned more than one row', '21000', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['25006 a policy that writes, on a read-only session', '25006', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['54001 statement_too_complex (a recursive policy)', '54001', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['0A000 feature_not_supported', '0A000', 'bad-request', UNAUTHORIZED, 'not visible'],
  ['XX000 internal_error', 'XX000', 'server-bug', UNAUTHORIZED, 'retried'],
  ['F0000 config_file_error', 'F0000', 'server-bug', UNAUTHORIZED, 'retried'],
];

/** A pool whose every transaction fails with `error`, as the authorization query would. */
const failingSql = (error: Error) => ({ begin: async () => Promise.reject(error) }) as unknown as Sql;

describe('classifyPgError', () => {
  it.each(table)('%s: %s', (_what, code, kind) => {
    expect(classifyPgError(pgError(code))).toBe(kind);
  });

  it.each(table)('%s: a private join answers as the platform does', async (_what, code, _kind, reason) => {
    const joined = authorizePrivate(failingSql(pgError(code)), true, 'room', {
      role: 'authenticated',
      sub: 'u',
      exp: 0,
    } as never);
    const error = await joined.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(RealtimeError);
    expect(reasonFor(error as RealtimeError)).toBe(reason);
  });

  it.each(table)('%s: delivery’s RLS check takes it as %s', (_what, code, _kind, _join, delivery) => {
    expect(isAnswer(pgError(code)) ? 'not visible' : 'retried').toBe(delivery);
  });

  it('reads a SQLSTATE only from an error PostgreSQL sent', () => {
    expect(sqlState(pgError('42501'))).toBe('42501');
    expect(sqlState(pgError('ECONNREFUSED'))).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
    expect(sqlState('42501')).toBeUndefined();
  });
});
