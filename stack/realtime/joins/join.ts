/**
 * `phx_join` as a pipeline of small steps. Each step returns its result or
 * throws a tagged RealtimeError; the connection turns the tag into the reply's `reason` in one place
 * (errors.ts, listed in ERROR_CODES.md). In order:
 *
 *   1. parsePayload      the payload's shape (zod)                      InvalidJoinPayload
 *   2. topicName         `realtime:<name>` with a non-empty name        TopicNameRequired
 *   3. channelLimit      at most maxChannelsPerClient (100) per socket ChannelRateLimitReached
 *                        (run by the connection as the frame arrives, counting joins in flight, so
 *                        a burst cannot pass it; the join-rate quota is checked there just before)
 *   4. authenticate      user_token ?? access_token ?? the socket's key InvalidJWTToken, MalformedJWT, JwtSignatureError
 *   4b. privateOnly      the project allows only private channels     PrivateOnly
 *   5. authorizePrivate  private channels: the realtime.messages policies (authorization.ts)
 *                                                                        Unauthorized, MissingPartition, UnableToConnectToProject
 *   5b. replay           `config.broadcast.replay` (replay.ts)          Unauthorized, UnableToReplayMessages
 *   6. planBindings      postgres_changes bindings → ids, filters, select (never fails the join: a bad binding
 *                                                                        becomes a `system` error message)
 */
import type { KeySet } from '../../identity/keys.ts';
import type { Sql } from 'postgres';
import { z } from 'zod';
import type { Claims } from '../../identity/jwt.ts';
import { authorizeTopic, mayJoin, type Policies, PUBLIC_POLICIES } from './authorization.ts';
import type { Catalog, TableInfo } from '../changes/catalog.ts';
import type { Binding } from '../changes/dispatcher.ts';
import { realtimeError } from '../errors.ts';
import { FilterError, parseFilter } from '../changes/filters.ts';
import { fetchReplay, type ReplayedMessage, replayRequest } from '../broadcast/replay.ts';
import { claimsFor } from './tokens.ts';
import { classifyPgError, SQLSTATE, sqlState } from '../../lib/pg-errors.ts';
import { isPrototypeKey } from '../broadcast/presence.ts';

export const MAX_CHANNELS_PER_SOCKET = 100;

const bindingSchema = z.looseObject({
  event: z.string().optional(),
  schema: z.string().optional(),
  table: z.string().optional(),
  filter: z.string().optional(),
  select: z.unknown().optional(),
});

const joinPayloadSchema = z.looseObject({
  config: z
    .looseObject({
      broadcast: z
        .looseObject({
          ack: z.boolean().optional(),
          self: z.boolean().optional(),
          replication_ready: z.boolean().optional(),
          replay: z.unknown().optional(),
        })
        .optional(),
      presence: z
        .looseObject({
          key: z
            .string()
            .max(255)
            .refine((key) => !isPrototypeKey(key), 'presence key may not be a prototype property name')
            .optional(),
          enabled: z.boolean().optional(),
        })
        .optional(),
      postgres_changes: z.array(bindingSchema).optional(),
      private: z.boolean().optional(),
    })
    .optional(),
  access_token: z.string().nullish(),
  user_token: z.string().nullish(),
});

export type JoinPayload = z.infer<typeof joinPayloadSchema>;
type RawBinding = z.infer<typeof bindingSchema>;

export interface JoinPlan {
  name: string;
  isPrivate: boolean;
  token: string;
  claims: Claims;
  broadcast: { ack: boolean; self: boolean };
  /** `config.broadcast.replication_ready`: confirm the change stream with a system message. */
  replicationReady: boolean;
  presence: { key: string; enabled: boolean };
  /** The reply's `postgres_changes`: each entry exactly as received, plus its id. */
  echo: ({ id: number } & Record<string, unknown>)[];
  bindings: Binding[];
  /** Set when the bindings could not be subscribed; sent as a `system` error after the reply. */
  bindingError?: string;
  /** What the subscriber may do on the topic (everything on a public channel). */
  policies: Policies;
  /** Broadcast Replay's messages, pushed right after the join reply. */
  replayed: ReplayedMessage[];
}

export interface JoinContext {
  topic: string;
  payload: Record<string, unknown>;
  apikey: string;
  catalog: Catalog;
  keys: KeySet;
  /** The shared pool: private channel authorization and replay. */
  sql: Sql;
  /** `[realtime] private_only`-like setting: public channels are refused. */
  privateOnly: boolean;
}

export function parsePayload(payload: Record<string, unknown>): JoinPayload {
  const parsed = joinPayloadSchema.safeParse(payload);
  if (!parsed.success)
    throw realtimeError(
      'InvalidJoinPayload',
      `Invalid join payload: ${parsed.error.issues[0]?.message ?? 'bad shape'}`,
    );
  return parsed.data;
}

export function topicName(topic: string): string {
  const name = topic.startsWith('realtime:') ? topic.slice('realtime:'.length) : '';
  if (name.trim() === '') throw realtimeError('TopicNameRequired', 'You must provide a topic name');
  return name;
}

export function channelLimit(openChannels: number, maxChannels = MAX_CHANNELS_PER_SOCKET): void {
  if (openChannels >= maxChannels) throw realtimeError('ChannelRateLimitReached', 'Too many channels');
}

export async function authenticate(
  payload: JoinPayload,
  apikey: string,
  keys: KeySet,
): Promise<{ token: string; claims: Claims }> {
  const token = payload.user_token ?? payload.access_token ?? apikey;
  return { token, claims: await claimsFor(token, keys) };
}

export function privateOnly(isPrivate: boolean, onlyPrivate: boolean): void {
  if (onlyPrivate && !isPrivate) throw realtimeError('PrivateOnly', 'This project only allows private channels');
}

const cannotRead = (name: string) =>
  realtimeError('Unauthorized', `You do not have permissions to read from this Channel topic: ${name}`);

/**
 * A private channel is joined only if the realtime.messages policies let the subscriber read
 * broadcast or presence on the topic (authorization.ts). A policy that errors counts as a refusal,
 * as on the platform (supabase/realtime lib/realtime/tenants/authorization.ex: any error the query
 * returns is `rls_policy_error`); a missing partition has its own code, and a database that cannot
 * answer now (lib/pg-errors.ts: retryable, e.g. a connection refused with 53300 too_many_connections,
 * which the platform meets as a pool that cannot connect) is UnableToConnectToProject.
 */
export async function authorizePrivate(sql: Sql, isPrivate: boolean, name: string, claims: Claims): Promise<Policies> {
  if (!isPrivate) return PUBLIC_POLICIES;
  let policies: Policies;
  try {
    policies = await authorizeTopic(sql, name, claims);
  } catch (error) {
    if (sqlState(error) === SQLSTATE.checkViolation)
      throw realtimeError('MissingPartition', 'Realtime was unable to find the expected messages partition');
    if (classifyPgError(error) !== 'retryable') throw cannotRead(name);
    throw realtimeError('UnableToConnectToProject', 'Realtime was unable to connect to the project database');
  }
  if (!mayJoin(policies)) throw cannotRead(name);
  return policies;
}

/** A stable id below 2^27 for a binding entry (the platform uses Erlang's phash2 of the map). */
export function bindingId(entry: RawBinding): number {
  const text = JSON.stringify(
    Object.keys(entry)
      .sort()
      .map((key) => [key, (entry as Record<string, unknown>)[key]]),
  );
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7ffffff;
}

const normalEvent = (event: string | undefined): Binding['event'] => {
  const upper = (event ?? '*').toUpperCase();
  return upper === 'INSERT' || upper === 'UPDATE' || upper === 'DELETE' ? upper : '*';
};

const describe = (entry: RawBinding) =>
  `[event: ${entry.event ?? '*'}, schema: ${entry.schema ?? 'public'}, table: ${entry.table ?? '*'}, filters: ${JSON.stringify(entry.filter ?? [])}, select: ${entry.select === undefined ? 'nil' : JSON.stringify(entry.select)}]`;

const unableToSubscribe = (entry: RawBinding) =>
  `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ${describe(entry)}`;

/**
 * `select` (supabase/realtime `postgres_cdc_rls` subscription params): an array of column names of the one table the binding
 * names. Not allowed with schema or table `*`, and not as anything but an array; we also refuse
 * non-string entries and names the table lacks, where a typo would otherwise silently empty the
 * payload. Returns the list, undefined when the binding has none, or null when it is invalid.
 */
function selectedColumns(
  entry: RawBinding,
  schema: string,
  table: string,
  tables: TableInfo[],
): string[] | undefined | null {
  const select = entry.select;
  if (select === undefined) return undefined;
  if (!Array.isArray(select) || schema === '*' || table === '*' || tables.length !== 1) return null;
  return select.every((name): name is string => typeof name === 'string' && tables[0]!.types.has(name)) ? select : null;
}

export async function planBindings(
  entries: RawBinding[],
  catalog: Catalog,
): Promise<Pick<JoinPlan, 'echo' | 'bindings' | 'bindingError'>> {
  const echo = entries.map((entry) => ({ ...entry, id: bindingId(entry) }));
  const bindings: Binding[] = [];
  if (entries.length > 0) await catalog.refresh(false);
  const published = (schema: string, table: string) =>
    catalog
      .all()
      .filter((info) => (schema === '*' || info.schema === schema) && (table === '*' || info.table === table));
  for (const entry of entries) {
    const schema = entry.schema ?? 'public';
    const table = entry.table ?? '*';
    let conditions;
    try {
      conditions = parseFilter(entry.filter);
    } catch (error) {
      if (error instanceof FilterError)
        return { echo, bindings: [], bindingError: `Error parsing \`filter\` params: ${error.message}` };
      throw error;
    }
    let tables = published(schema, table);
    if (tables.length === 0) {
      // A table published a moment ago (within the refresh interval) is not missed.
      await catalog.refresh();
      tables = published(schema, table);
    }
    const unknownColumn = conditions.find(
      (condition) => tables.length === 1 && !tables[0]!.types.has(condition.column),
    );
    const select = selectedColumns(entry, schema, table, tables);
    if (tables.length === 0 || unknownColumn || select === null)
      return { echo, bindings: [], bindingError: unableToSubscribe(entry) };
    const binding: Binding = {
      id: echo[bindings.length]!.id,
      event: normalEvent(entry.event),
      schema,
      table,
      conditions,
    };
    if (select !== undefined) binding.select = select;
    bindings.push(binding);
  }
  return { echo, bindings };
}

/** Runs the whole pipeline; throws a RealtimeError from the first step that fails. */
export async function runJoin(context: JoinContext): Promise<JoinPlan> {
  const payload = parsePayload(context.payload);
  const name = topicName(context.topic);
  const { token, claims } = await authenticate(payload, context.apikey, context.keys);
  const config = payload.config ?? {};
  const isPrivate = config.private === true;
  privateOnly(isPrivate, context.privateOnly);
  const policies = await authorizePrivate(context.sql, isPrivate, name, claims);
  const replay = replayRequest(config, isPrivate);
  if (replay && !policies.broadcast.read) throw cannotRead(name);
  const replayed = replay ? await fetchReplay(context.sql, name, replay) : [];
  const planned = await planBindings(config.postgres_changes ?? [], context.catalog);
  return {
    name,
    isPrivate,
    token,
    claims,
    broadcast: { ack: config.broadcast?.ack === true, self: config.broadcast?.self === true },
    replicationReady: config.broadcast?.replication_ready === true,
    presence: { key: config.presence?.key ?? '', enabled: config.presence?.enabled === true },
    policies,
    replayed,
    ...planned,
  };
}
