/**
 * The unrelated client of `npm run bench:hostile`, in a process of its own so that the probes' own
 * work never delays its clock: a sender and a receiver socket on a public topic nobody else uses,
 * one broadcast every 50 ms, each timed from send to receipt. The parent asks over IPC for the
 * delays of a window: {start: label} begins one, {end: label} answers {label, delays}.
 */
import WebSocket from 'ws';

const [url, apikey] = process.argv.slice(2) as [string, string];
const topic = `realtime:bystander-${crypto.randomUUID().slice(0, 8)}`;
const socketUrl = `${url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${encodeURIComponent(apikey)}&vsn=2.0.0`;

function kind3(ref: string, event: string, payload: unknown): Buffer {
  const parts = ['1', ref, topic, event, ''].map((text) => Buffer.from(text));
  return Buffer.concat([
    Buffer.from([3, ...parts.map((part) => part.length), 1]),
    ...parts,
    Buffer.from(JSON.stringify(payload)),
  ]);
}

async function open(): Promise<WebSocket> {
  const ws = new WebSocket(socketUrl);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(JSON.stringify(['1', '1', topic, 'phx_join', { config: {} }]));
  await new Promise<void>((resolve) =>
    ws.on('message', (data, isBinary) => {
      if (!isBinary && JSON.parse(data.toString())[1] === '1') resolve();
    }),
  );
  return ws;
}

let window: number[] | undefined;
let sent = 0;
let lost = 0;
const inFlight = new Map<number, number>();

async function main(): Promise<void> {
  const [sender, receiver] = [await open(), await open()];
  receiver.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const frame = data as Buffer;
    const body = JSON.parse(frame.toString('utf8', 5 + frame[1]! + frame[2]! + frame[3]!)) as { n: number };
    const at = inFlight.get(body.n);
    if (at === undefined) return;
    inFlight.delete(body.n);
    window?.push(performance.now() - at);
  });
  const closed = () => process.send?.({ error: 'a bystander socket closed' });
  sender.once('close', closed);
  receiver.once('close', closed);
  setInterval(() => {
    const n = sent++;
    // Anything not back within 2 s counts as lost to the window.
    for (const [m, at] of inFlight) {
      if (performance.now() - at <= 2000) continue;
      inFlight.delete(m);
      lost++;
      window?.push(2000);
    }
    inFlight.set(n, performance.now());
    sender.send(kind3(String(n + 2), 'tick', { n }));
  }, 50);
  process.on('message', (message: { start?: string; end?: string }) => {
    if (message.start !== undefined) {
      window = [];
      lost = 0;
    } else if (message.end !== undefined) {
      process.send?.({ label: message.end, delays: window ?? [], lost });
      window = undefined;
    }
  });
  process.send?.({ ready: true });
}

main().catch((error: unknown) => {
  process.send?.({ error: String(error) });
  process.exit(1);
});
