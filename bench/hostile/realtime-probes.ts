/**
 * The realtime probes of `npm run bench:hostile`, each bounded in count and time. A probe returns
 * what it sent and what came back, in words for the table, and counts 5xx answers.
 */
import { HandshakeRefused, kind3, RawSocket } from '../../test-support/raw-socket.ts';
import { rawRequest } from './http.ts';

export interface Target {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** A signed-in user's token, and the private topic that user may use. */
  userToken: string;
  userTopic: string;
  /** Sockets the server admits in all (its max_concurrent_users). */
  maxSockets: number;
}

export interface ProbeResult {
  sent: string;
  cameBack: string;
  fiveXx: number;
  /** The probe's requests were all refused: no row may change. */
  refusedOnly?: boolean;
}

const later = () => new Promise((resolve) => setImmediate(resolve));
const count = (items: string[]) => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => `${n}× ${item}`).join(', ') || 'nothing';
};

async function openSocket(target: Target, apikey = target.anonKey): Promise<RawSocket> {
  return RawSocket.open({ url: target.url, apikey });
}

/**
 * One client sending broadcasts as fast as its socket takes them for `seconds`, rejoining whenever
 * the server shuts its channel and reconnecting when it drops the socket: what a hostile client does.
 */
export async function flood(
  target: Target,
  options: { topic: string; private: boolean; token?: string; seconds: number },
): Promise<ProbeResult> {
  const receiver = await openSocket(target, options.private ? target.anonKey : target.anonKey);
  const join = (socket: RawSocket, ref: string) =>
    socket.join(options.topic, ref, { private: options.private }, options.token ? { access_token: options.token } : {});
  const receiverJoin = await join(receiver, '1');
  let relayed = 0;
  receiver.ws.on('message', (_data, isBinary) => void (isBinary && relayed++));
  const closes: string[] = [];
  const shutdowns: string[] = [];
  let sent = 0;
  let rejoins = 0;
  const end = performance.now() + options.seconds * 1000;
  let ref = 10;
  while (performance.now() < end) {
    let socket: RawSocket;
    try {
      socket = await openSocket(target);
    } catch (error) {
      closes.push(error instanceof HandshakeRefused ? `handshake ${error.status}` : 'connect error');
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    let joined = (await join(socket, String(ref++)))[4].status === 'ok';
    let open = true;
    socket.closed.then((code) => (closes.push(`close ${code}`), (open = false)));
    socket.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(data.toString()) as [string, string, string, string, { message?: string }];
      if (frame[3] === 'system' && frame[4].message) shutdowns.push(frame[4].message);
      if (frame[3] === 'phx_close') joined = false;
    });
    const topic = `realtime:${options.topic}`;
    while (open && performance.now() < end) {
      if (!joined) {
        rejoins++;
        joined =
          (await join(socket, String(ref++)).catch(() => [0, 0, 0, 0, { status: 'timeout' }] as never))[4].status ===
          'ok';
        continue;
      }
      if (socket.ws.bufferedAmount < 1024 * 1024) {
        for (let i = 0; i < 200; i++)
          socket.ws.send(kind3(String(ref - 1), String(ref++), topic, 'flood', { i, pad: 'x'.repeat(64) }));
        sent += 200;
      }
      await later();
    }
    socket.close();
  }
  receiver.close();
  return {
    sent: `${sent} broadcasts in ${options.seconds} s on a ${options.private ? 'private (own)' : 'public'} topic, ${rejoins} rejoins`,
    cameBack: `receiver ${receiverJoin[4].status}, got ${relayed} relayed; sender: ${count(shutdowns)}; ${count(closes)}`,
    fiveXx: closes.filter((what) => /handshake 5/.test(what)).length,
  };
}

/** Sockets that stop reading while 128 KB broadcasts flow to them over HTTP. */
export async function slowConsumers(
  target: Target,
  options: { sockets: number; seconds: number; droppedByServer: () => string },
): Promise<ProbeResult> {
  const topic = `slow-${crypto.randomUUID().slice(0, 8)}`;
  const sockets: RawSocket[] = [];
  const refused: string[] = [];
  for (let i = 0; i < options.sockets; i += 25) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(25, options.sockets - i) }, () => openSocket(target)),
    );
    for (const result of batch) {
      if (result.status === 'fulfilled') sockets.push(result.value);
      else
        refused.push(result.reason instanceof HandshakeRefused ? `handshake ${result.reason.status}` : 'connect error');
    }
  }
  await Promise.all(sockets.map((socket, i) => socket.join(topic, String(i + 1))));
  for (const socket of sockets) {
    // Stop reading: the kernel buffers fill, then the server's send queue for this socket grows.
    (socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  const statuses: number[] = [];
  const payload = JSON.stringify({ blob: 'y'.repeat(128 * 1024) });
  const end = performance.now() + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < end) {
        const answer = await fetch(`${target.url}/realtime/v1/api/broadcast/${topic}/events/bulk`, {
          method: 'POST',
          headers: { apikey: target.anonKey, 'content-type': 'application/json' },
          body: payload,
        }).catch(() => undefined);
        statuses.push(answer?.status ?? 0);
      }
    }),
  );
  for (const socket of sockets) socket.ws.terminate();
  const dropped = options.droppedByServer();
  return {
    sent: `${sockets.length} sockets stop reading (${refused.length} refused: ${count(refused)}); ${statuses.length} × 128 KB HTTP broadcasts in ${options.seconds} s`,
    cameBack: `HTTP ${count(statuses.map(String))}; server dropped ${dropped} sockets past the send-buffer bound`,
    fiveXx: statuses.filter((status) => status >= 500).length,
  };
}

export async function burstJoins(target: Target, joins: number): Promise<ProbeResult> {
  const socket = await openSocket(target);
  for (let i = 0; i < joins; i++)
    socket.send([
      String(i),
      String(i),
      `realtime:burst-${i}-${crypto.randomUUID().slice(0, 4)}`,
      'phx_join',
      { config: {} },
    ]);
  const code = await Promise.race([
    socket.closed.then((c) => `close ${c}`),
    new Promise<string>((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000)),
  ]);
  socket.ws.terminate();
  const replies = socket.frames.items
    .filter((f) => f[3] === 'phx_reply')
    .map((f) => (f[4].status === 'ok' ? 'ok' : String(f[4].response?.reason)));
  return { sent: `${joins} phx_join at once on one socket`, cameBack: `${count(replies)}; ${code}`, fiveXx: 0 };
}

export async function presenceFlood(target: Target, tracks: number): Promise<ProbeResult> {
  const socket = await openSocket(target);
  const name = `presence-${crypto.randomUUID().slice(0, 8)}`;
  await socket.join(name, '1', { presence: { key: 'p', enabled: true } });
  for (let i = 0; i < tracks; i++)
    socket.send([
      '1',
      String(i + 2),
      `realtime:${name}`,
      'presence',
      { type: 'presence', event: 'track', payload: { i } },
    ]);
  await socket.frames.waitFor((f) => f[3] === 'phx_close', 5000, 'phx_close').catch(() => undefined);
  const oks = socket.frames.items.filter(
    (f) => f[3] === 'phx_reply' && f[4].status === 'ok' && Number(f[1]) >= 2,
  ).length;
  const system = socket.frames.items.filter((f) => f[3] === 'system').map((f) => String(f[4].message));
  socket.close();
  return { sent: `${tracks} presence re-tracks at once`, cameBack: `${oks} ok; ${count(system)}`, fiveXx: 0 };
}

export async function oversized(target: Target): Promise<ProbeResult> {
  const outcomes: string[] = [];
  const name = `big-${crypto.randomUUID().slice(0, 8)}`;
  const receiver = await openSocket(target);
  await receiver.join(name, '1');
  const attempt = async (what: string, send: (socket: RawSocket) => void, presence = false) => {
    const socket = await openSocket(target);
    await socket.join(name, '1', presence ? { presence: { key: 'big', enabled: true } } : { broadcast: { ack: true } });
    send(socket);
    const result = await Promise.race([
      socket.closed.then((code) => `close ${code}`),
      socket.frames
        .waitFor((f) => f[3] === 'system' || (f[3] === 'phx_reply' && f[1] === '9'), 8000, 'an answer')
        .then((f) => (f[3] === 'system' ? `system "${f[4].message}"` : `reply ${JSON.stringify(f[4])}`)),
    ]).catch(() => 'no answer');
    outcomes.push(`${what}: ${result}`);
    socket.ws.terminate();
  };
  await attempt('256 KB broadcast', (s) =>
    s.ws.send(kind3('1', '9', `realtime:${name}`, 'big', { blob: 'x'.repeat(256 * 1024) })),
  );
  await attempt('3.9 MB broadcast', (s) =>
    s.ws.send(kind3('1', '9', `realtime:${name}`, 'big', { blob: 'x'.repeat(3_900_000) })),
  );
  const track = (payload: unknown) => (s: RawSocket) =>
    s.send(['1', '9', `realtime:${name}`, 'presence', { type: 'presence', event: 'track', payload }]);
  await attempt(
    'presence meta of 1,000 keys',
    track(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]))),
    true,
  );
  await attempt('presence meta of 3.5 MB', track({ blob: 'x'.repeat(3_500_000) }), true);
  await attempt('presence meta of 2.9 MB', track({ blob: 'x'.repeat(2_900_000) }), true);
  const relayed = receiver.binary.items.length;
  receiver.close();
  return {
    sent: '256 KB and 3.9 MB broadcasts; presence metas of 1,000 keys, 3.5 MB and 2.9 MB',
    cameBack: `${outcomes.join('; ')}; relayed to others: ${relayed}`,
    fiveXx: 0,
  };
}

export async function idleSockets(target: Target, sockets: number): Promise<ProbeResult> {
  const opened: RawSocket[] = [];
  const refused: string[] = [];
  for (let i = 0; i < sockets; i += 50) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(50, sockets - i) }, () => openSocket(target)));
    for (const result of batch) {
      if (result.status === 'fulfilled') opened.push(result.value);
      else refused.push(result.reason instanceof HandshakeRefused ? `${result.reason.status}` : 'connect error');
    }
  }
  for (const socket of opened) socket.ws.terminate();
  return {
    sent: `${sockets} sockets that never join`,
    cameBack: `${opened.length} admitted (max_concurrent_users ${target.maxSockets}, the bystander's 2 included), refused: ${count(refused)}`,
    fiveXx: refused.filter((status) => status.startsWith('5')).length,
  };
}

export async function malformedFrames(target: Target): Promise<ProbeResult> {
  const v2socket = await openSocket(target);
  const v1socket = await RawSocket.open({ url: target.url, apikey: target.anonKey, vsn: '1.0.0' });
  const frames = [
    '[{"toString":1},"1","realtime:x","phx_join",{}]',
    '["1",{"toString":null},"realtime:x","phx_join",{}]',
    '[null,"1",{"a":1},"phx_join",{}]',
    '[1,2,3]',
    'not json',
  ];
  for (let i = 0; i < 200; i++) for (const frame of frames) v2socket.send(frame);
  for (let i = 0; i < 200; i++)
    v1socket.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"toString":null}}');
  for (let i = 0; i < 200; i++) v2socket.ws.send(Buffer.from([i % 3, 255, 255, 255, 255, 255, 1]));
  const alive = await Promise.all([
    v2socket.heartbeat('h').then(
      () => 'answers',
      () => 'silent',
    ),
    (async () => {
      v1socket.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: 'h' });
      return v1socket.reply('h').then(
        () => 'answers',
        () => 'silent',
      );
    })(),
  ]);
  v2socket.close();
  v1socket.close();
  return {
    sent: '1,000 malformed 2.0.0 text frames, 200 bad binary frames, 200 1.0.0 heartbeats with an object ref',
    cameBack: `2.0.0 socket ${alive[0]}, 1.0.0 socket ${alive[1]} to a heartbeat`,
    fiveXx: 0,
  };
}

export async function realtimeHttpInput(target: Target): Promise<ProbeResult> {
  const listener = await openSocket(target);
  const name = `http-${crypto.randomUUID().slice(0, 8)}`;
  await listener.join(name, '1');
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${target.url}/realtime/v1/api/broadcast${path}`, {
      method: 'POST',
      headers: { apikey: target.anonKey, 'content-type': 'application/json', ...headers },
      body,
    }).then(
      (answer) => answer.status,
      () => 0,
    );
  const long = 'e'.repeat(300);
  const statuses = await Promise.all([
    post('/%ZZ/events/x', '{}'),
    post('', 'null'),
    post('', JSON.stringify({ messages: [{ topic: name, event: long, payload: {} }] })),
    post('', JSON.stringify({ messages: [{ topic: name, event: 'e', payload: {}, id: 'i'.repeat(300) }] })),
    post(`/${name}/events/${long}`, '{}'),
    post('', `{"messages":[{"topic":"${name}","event":"deep","payload":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`),
    post('', '{"messages":[]}', {
      authorization: 'Bearer sb_secret_totally-made-up',
      apikey: 'sb_secret_totally-made-up',
    }),
    rawRequest(`${target.url}/realtime/v1/api/broadcast`, 'TRACE', { apikey: target.anonKey }).then(
      (answer) => answer.status,
    ),
  ]);
  const good = await post('', JSON.stringify({ messages: [{ topic: name, event: 'good', payload: {} }] }));
  const delivered = await listener.binary
    .waitFor((frame) => frame.includes('good'), 3000, 'the good message')
    .then(
      () => 'delivered',
      () => 'NOT delivered',
    );
  listener.close();
  return {
    sent: '%ZZ path, null body, 300-byte event (batch and path), 300-byte id, 10,000-deep payload, made-up sb_secret key, TRACE; then a good message',
    cameBack: `${statuses.join(' ')}; good message ${good}, ${delivered} to a 2.0.0 subscriber`,
    fiveXx: [...statuses, good].filter((status) => status >= 500).length,
    refusedOnly: true,
  };
}
