/**
 * The bare relay of the harness's floor (floor.ts), run as a child process so that its CPU can be
 * read from /proc on its own: a TEMPORARY wal2json (format 2) slot of its own on the same database,
 * streamed over the replication protocol, and each change's bytes sent as they are to every `ws`
 * client. No authorization, no matching, no reshaping, no transaction boundaries: the least work
 * that gets a committed row onto a socket on this machine. It decodes the same tables our server
 * decodes (the publication's, `add-tables`), and confirms each position as soon as it is sent.
 *
 *   node --import tsx bench/harness/relay.ts <db url> <add-tables>
 *
 * Prints one JSON line `{ "port": … }` (its WebSocket port on 127.0.0.1) once it streams; its WAL
 * sender's application_name is `virgil_floor_relay_<pid>`. Ends (and the temporary slot with it)
 * when stdin closes.
 */
import type { Duplex } from 'node:stream';
import postgres from 'postgres';
import { WebSocketServer } from 'ws';

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

async function main(): Promise<void> {
  const [url, tables] = process.argv.slice(2);
  if (!url || !tables) throw new Error('usage: relay.ts <db url> <add-tables>');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const sql = postgres(url, {
    max: 1,
    fetch_types: false,
    idle_timeout: 0,
    max_lifetime: null,
    connection: { replication: 'database', application_name: `virgil_floor_relay_${process.pid}` },
    onnotice: () => undefined,
  });
  const slot = `virgil_floor_${process.pid}`;
  await sql.unsafe(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL wal2json NOEXPORT_SNAPSHOT`);
  const stream = (await sql
    .unsafe(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 ("format-version" '2', "include-transaction" '0', "add-tables" '${tables.replace(/'/g, "''")}')`)
    .writable()) as unknown as Duplex;
  let position = 0n;
  const confirm = () => {
    if (position === 0n) return;
    const message = Buffer.alloc(34);
    message[0] = 0x72; // 'r': standby status update
    message.writeBigUInt64BE(position, 1);
    message.writeBigUInt64BE(position, 9);
    message.writeBigUInt64BE(position, 17);
    message.writeBigUInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    stream.write(message);
  };
  stream.on('data', (data: Buffer) => {
    if (data[0] === 0x77) {
      // XLogData: 'w', dataStart, walEnd, sendTime (8 bytes each), then the wal2json document.
      const change = data.subarray(25);
      for (const client of wss.clients) client.send(change, { binary: false });
      position = data.readBigUInt64BE(9);
    } else if (data[0] === 0x6b) {
      position = data.readBigUInt64BE(1) > position ? data.readBigUInt64BE(1) : position;
      if (data[17]) confirm();
    }
  });
  const timer = setInterval(confirm, 1000);
  const stop = async () => {
    clearInterval(timer);
    wss.close();
    stream.destroy();
    await sql.end({ timeout: 1 }).catch(() => undefined);
    process.exit(0);
  };
  stream.on('error', (error: Error) => console.error(`[relay] ${error.message}`));
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
  const address = wss.address();
  console.log(JSON.stringify({ port: address !== null && typeof address === 'object' ? address.port : 0 }));
}

main().catch((error: unknown) => {
  console.error(`[relay] ${(error as Error).stack ?? error}`);
  process.exit(1);
});
