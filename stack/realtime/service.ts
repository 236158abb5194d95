/**
 * The local Realtime server as a gateway service (prefix `/realtime/v1/`): the WebSocket at
 * `/realtime/v1/websocket` (ws in noServer mode, upgraded by the gateway) and the HTTP broadcast
 * endpoints under `/realtime/v1/api/`.
 *
 * It owns: one shared pool (catalog reads and RLS checks, `max` connections however many sockets),
 * the change stream of the permanent slot `virgil_realtime`, the dispatcher, the hub, and a
 * ping/pong sweep every 30 s that terminates dead peers.
 *
 * Settings: `config.realtime` (pool size, check lanes, join error delay, slots, debug, private only),
 * resolved by ../config.ts like every other setting.
 *
 * Quotas: config.realtime.limits (limits.ts), written to <stack folder>/realtime-limits.json at start
 * so that tools can tell which values the running server enforces.
 *
 * Broadcast from Database (broadcast-stream.ts) is a second stream of its own slot; its messages
 * fan out through the hub by topic. The janitor (janitor.ts) keeps realtime.messages' partitions.
 */
import postgres from 'postgres';
import { WebSocketServer } from 'ws';
import type { StackConfig } from '../config.ts';
import type { GatewayService, ServiceFactory } from '../gateway/server.ts';
import { authorizeTopic } from './joins/authorization.ts';
import { BroadcastStream, type DatabaseMessage } from './broadcast/broadcast-stream.ts';
import { Catalog } from './changes/catalog.ts';
import { ChangeStream } from './changes/changes.ts';
import { Connection } from './transport/connection.ts';
import { Dispatcher } from './changes/dispatcher.ts';
import { abortHandshake, checkHandshake, HandshakeError, SOCKET_PATH } from './transport/handshake.ts';
import { handleBroadcastRequest } from './transport/http.ts';
import { Hub, hubTopic } from './broadcast/hub.ts';
import { maintainPartitions } from './broadcast/janitor.ts';
import { describeLimits, maxPayloadBytes, publishLimits, RateWindow } from './limits.ts';
import { Visibility } from './changes/visibility.ts';

export const realtimeService: ServiceFactory = async (config: StackConfig): Promise<GatewayService> => {
  const log = (line: string) => console.log(line);
  const keys = config.keys;
  const settings = config.realtime;
  const sql = postgres(config.db.url, {
    max: settings.poolMax,
    idle_timeout: 30,
    connection: { application_name: 'virgil_realtime_checks' },
    onnotice: () => undefined,
  });
  const catalog = new Catalog(sql);
  const catalogTimer = setInterval(() => void catalog.refresh().catch(() => undefined), 5000);
  await catalog.refresh().catch((error: Error) => log(`[realtime] catalog not read yet: ${error.message}`));
  const visibility = new Visibility(config.db.url, log, settings.checkLanes);
  const hub = new Hub((_member, error) =>
    log(`[realtime] a subscriber could not take a message: ${(error as Error).message}`),
  );
  const limits = config.realtime.limits;
  publishLimits(config.stackDir, limits);
  log(`[realtime] quotas: ${describeLimits(limits)}`);
  let stream: ChangeStream | undefined;
  const dispatcher = new Dispatcher(
    catalog,
    visibility,
    (transaction) => stream?.acknowledge(transaction),
    log,
    settings.debug,
  );
  stream = new ChangeStream({
    url: config.db.url,
    slot: settings.slot,
    publication: 'supabase_realtime',
    onTransaction: (transaction) => dispatcher.enqueue(transaction),
    log,
    debug: settings.debug,
  });
  stream.start();

  const janitor = () =>
    maintainPartitions(sql).then(
      ({ created, dropped }) => {
        if (created.length + dropped.length > 0)
          log(`[realtime] janitor: created ${created.join(', ') || 'none'}; dropped ${dropped.join(', ') || 'none'}`);
      },
      (error: Error) => log(`[realtime] janitor failed: ${error.message}`),
    );
  await janitor();
  const janitorTimer = setInterval(() => void janitor(), 3600_000);
  const deliverFromDatabase = (messages: DatabaseMessage[]) => {
    for (const message of messages) {
      const topic = `realtime:${message.topic}`;
      hub.broadcast(
        hubTopic(message.topic, message.private),
        message.binary
          ? { topic, event: message.event, payload: {}, raw: message.binary, meta: { id: message.id } }
          : { topic, event: message.event, payload: message.payload, meta: { id: message.id } },
        undefined,
      );
    }
  };
  const broadcastStream = new BroadcastStream({
    url: config.db.url,
    slot: settings.broadcastSlot,
    onMessages: deliverFromDatabase,
    log,
  });
  broadcastStream.start();

  // A frame larger than the largest payload plus its envelope is refused by ws itself (close 1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes(limits) + 64 * 1024 });
  let sockets = 0;
  const httpRate = new RateWindow(limits.maxEventsPerSecond);
  const connections = new Set<Connection>();
  const context = {
    catalog,
    dispatcher,
    hub,
    keys,
    sql,
    privateOnly: settings.privateOnly,
    limits,
    errorBackoffMs: settings.errorBackoffMs,
    debug: settings.debug,
    log,
  };
  const sweep = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) connection.terminate();
      connection.alive = false;
    }
    for (const client of wss.clients) client.ping();
  }, 30_000);

  return {
    name: 'realtime',
    prefix: '/realtime/v1/',
    handleUpgrade(request, socket, head) {
      // The slot is taken before anything awaits, so a burst of upgrades cannot pass the quota.
      if (sockets >= limits.maxConcurrentUsers) {
        log('[realtime] ConnectionRateLimitReached: Too many connected users');
        return abortHandshake(socket, new HandshakeError(429, 'Too many connected users'));
      }
      sockets++;
      let released = false;
      const release = () => {
        if (!released) sockets--;
        released = true;
      };
      socket.once('close', release);
      checkHandshake(request, keys).then(
        (handshake) => {
          if (socket.destroyed) return release();
          wss.handleUpgrade(request, socket, head, (ws) => {
            const connection = new Connection(ws, handshake, context);
            connections.add(connection);
            ws.once('close', () => {
              connections.delete(connection);
              release();
            });
          });
        },
        (error: unknown) => {
          release();
          if (error instanceof HandshakeError) return abortHandshake(socket, error);
          log(`[realtime] handshake failed: ${(error as Error).message}`);
          abortHandshake(socket, new HandshakeError(500, 'internal error'));
        },
      );
    },
    handleRequest: (request, response) =>
      handleBroadcastRequest(
        request,
        response,
        hub,
        keys,
        limits,
        async (topic, claims) => (await authorizeTopic(sql, topic, claims)).broadcast.write,
        httpRate,
      ),
    describe: () => ({
      'Realtime URL': `${config.api.url.replace(/^http/, 'ws')}${SOCKET_PATH.replace(/\/websocket$/, '')}`,
    }),
    async close() {
      clearInterval(sweep);
      clearInterval(catalogTimer);
      clearInterval(janitorTimer);
      for (const connection of connections) connection.terminate();
      wss.close();
      await stream?.close();
      await broadcastStream.close();
      await visibility.close();
      await sql.end({ timeout: 2 });
    },
  };
};
