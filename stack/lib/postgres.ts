/**
 * PostgreSQL's conventions that the stack and its tools write in several places: quoting SQL text
 * (for the statements that cannot take parameters: replication commands, DDL, generated checks)
 * and the epoch of the wire protocol's timestamps.
 */

/** A string as an SQL literal: `'it''s'` (standard_conforming_strings is on in every session we open). */
export const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** A name as a quoted SQL identifier: `"My ""table"""`. */
export const identifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** 2000-01-01T00:00:00Z in Unix milliseconds: the protocol counts its timestamps in µs from it. */
export const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
