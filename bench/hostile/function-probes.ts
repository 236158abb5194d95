/**
 * The edge function probes of `npm run bench:hostile`: what a hostile client sends to `sync` and
 * `score-memory`, and what comes back. Reported, never judged here: the table's targets do that.
 */
import { rawRequest } from './http.ts';
import type { ProbeResult, Target } from './realtime-probes.ts';

const deepJson = (depth: number) => `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
const toBase64Url = (text: string) => Buffer.from(text).toString('base64url');

function call(target: Target, name: string, body: string, method = 'POST') {
  return rawRequest(
    `${target.url}/functions/v1/${name}`,
    method,
    { authorization: `Bearer ${target.userToken}`, apikey: target.anonKey, 'content-type': 'application/json' },
    method === 'TRACE' ? undefined : body,
  );
}

const shortBody = (body: string) => {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; code?: unknown; message?: unknown };
    return String(parsed.code ?? parsed.error ?? parsed.message ?? '').slice(0, 40);
  } catch {
    return body.slice(0, 40);
  }
};

export async function badFunctionInput(target: Target): Promise<ProbeResult> {
  // A cursor of the right shape whose snapshot pg_snapshot cannot read (xmin above xmax).
  const forged = `v1.${toBase64Url(JSON.stringify({ since: '99999999999999999999:1:' }))}`;
  const answers = await Promise.all([
    call(target, 'sync', deepJson(10_000)),
    call(target, 'score-memory', deepJson(10_000)),
    call(target, 'sync', JSON.stringify({ pull: { cursor: forged } })),
    call(target, 'sync', '', 'TRACE'),
    call(target, 'score-memory', '', 'TRACE'),
  ]);
  const labels = ['sync deep', 'score-memory deep', 'sync forged cursor', 'sync TRACE', 'score-memory TRACE'];
  return {
    sent: 'JSON nested 10,000 deep to sync and score-memory, a forged pull cursor, TRACE to both',
    cameBack: answers.map((answer, i) => `${labels[i]} ${answer.status} ${shortBody(answer.body)}`.trim()).join('; '),
    fiveXx: answers.filter((answer) => answer.status >= 500).length,
    refusedOnly: true,
  };
}

export async function concurrentPushes(target: Target, pushes: number, items: number): Promise<ProbeResult> {
  const now = new Date().toISOString();
  const run = crypto.randomUUID().slice(0, 8);
  const body = (push: number) =>
    JSON.stringify({
      push: Array.from({ length: items }, (_, i) => ({
        table: 'memories',
        op: 'upsert',
        local_id: `hostile-${run}-${push}-${i}`,
        change_id: crypto.randomUUID(),
        client_updated_at: now,
        fields: { content: `h${i}`.padEnd(3000, 'z') },
      })),
    });
  const answers = await Promise.all(Array.from({ length: pushes }, (_, push) => call(target, 'sync', body(push))));
  const statuses = new Map<string, number>();
  for (const answer of answers) {
    const key = `${answer.status}${answer.status >= 400 ? ` ${shortBody(answer.body)}` : ''}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }
  return {
    sent: `${pushes} concurrent sync pushes of ${items} memories × 3 KB (status 0: no answer within 30 s)`,
    cameBack: [...statuses].map(([status, n]) => `${n}× ${status}`).join(', '),
    fiveXx: answers.filter((answer) => answer.status >= 500 && answer.status !== 503).length,
  };
}
