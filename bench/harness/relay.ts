/**
 * The bare relay of the harness's floor (floor.ts), run as a child process so that its CPU can be
 * read from /proc on its own: a TEMPORARY wal2json (format 2) slot of its own on the same database,
 * streamed by the stack's replication session (stack/realtime/replication.ts), and each change's bytes sent as they are to every `ws`
 * client. No authorization, no matching, no reshaping, no transaction boundaries: the least work
 * that gets a committed row onto a socket on this machine. It decodes the same tables our server
 * decodes (the publication's, `add-tables`), and confirms each position as soon as it is sent.
 *
 *   node --import tsx bench/harness/relay.ts <db url> <add-tables>
 *
 * Prints one JSON line `{ "port": … }` (its WebSocket port on 127.0.0.1) once it streams; its WAL
 * sender's application_name is `virgil_floor_relay_<pid>`. Ends (and the temporary slot with it)
 * when stdin closes; exits with an error if the stream ends before.
 */
import { WebSocketServer } from 'ws';
import { literal } from '../../stack/lib/postgres.ts';
import { ReplicationSession } from '../../stack/realtime/replication.ts';

async function main(): Promise<void> {
  const [url, tables] = process.argv.slice(2);
  if (!url || !tables) throw new Error('usage: relay.ts <db url> <add-tables>');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  let started!: () => void;
  let ended!: (error: Error) => void;
  const streaming = new Promise<void>((resolve) => (started = resolve));
  const lost = new Promise<never>((_resolve, reject) => (ended = reject));
  let position = 0n;
  const session = new ReplicationSession({
    url,
    slot: `virgil_floor_${process.pid}`,
    slotKind: 'temporary',
    applicationName: `virgil_floor_relay_${process.pid}`,
    name: 'floor relay',
    pluginOptions: () => `"format-version" '2', "include-transaction" '0', "add-tables" ${literal(tables)}`,
    onXLogData: ({ walEnd, data }) => {
      for (const client of wss.clients) client.send(data, { binary: false });
      position = walEnd;
    },
    onKeepalive: (walEnd, replyRequested) => {
      if (walEnd > position) position = walEnd;
      if (replyRequested) session.confirm(position);
    },
    onStreaming: () => started(),
    // A temporary slot ends with its connection: a relay that lost it has nothing left to relay.
    onRestart: () => ended(new Error('the replication stream ended')),
    reconnect: false,
    log: (line) => console.error(line.replace('[realtime]', '[relay]')),
  });
  session.start();
  const timer = setInterval(() => session.confirm(position), 1000);
  process.stdin.on('close', () => {
    clearInterval(timer);
    wss.close();
    void session.close().then(() => process.exit(0));
  });
  process.stdin.resume();
  await Promise.race([streaming, lost]);
  const address = wss.address();
  console.log(JSON.stringify({ port: address !== null && typeof address === 'object' ? address.port : 0 }));
  await lost;
}

main().catch((error: unknown) => {
  console.error(`[relay] ${(error as Error).stack ?? error}`);
  process.exit(1);
});
