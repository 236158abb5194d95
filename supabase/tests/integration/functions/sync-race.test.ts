/**
 * Two devices racing on one row: the conflict check and the write are atomic, so they can never
 * both win against the same version, and the later edit is never overwritten by the earlier one.
 * Each round sends both pushes at once over HTTP; which arrives first is up to the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { connectDb, device, editTime, item, push, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
const rounds = 15;
let ada: LocalUser;

beforeAll(async () => {
  ada = await users.create('ada');
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

async function current(localId: string) {
  const [row] = await sql<{ title: string; version: string }[]>`
    select title, version from public.conversations where user_id = ${ada.id} and local_id = ${localId}`;
  return { title: row!.title, version: Number(row!.version) };
}

describe('two devices on one row', () => {
  it('compare-and-set: exactly one of two edits of the same version wins', async () => {
    const laptop = device(ada);
    const phone = device(ada);
    for (let round = 0; round < rounds; round += 1) {
      const localId = `cas-race-${round}`;
      await push(laptop, [item.conversation(localId, { title: 'start' })]);
      const [[a], [b]] = await Promise.all([
        push(laptop, [item.conversation(localId, { title: 'laptop' }, { mode: 'cas', base_version: 1 })]),
        push(phone, [item.conversation(localId, { title: 'phone' }, { mode: 'cas', base_version: 1 })]),
      ]);
      const statuses = [a!.status, b!.status].sort();
      expect(statuses).toEqual(['applied', 'conflict']);
      const winner = a!.status === 'applied' ? 'laptop' : 'phone';
      const loser = a!.status === 'applied' ? b! : a!;
      expect(await current(localId)).toEqual({ title: winner, version: 2 });
      expect(loser.row).toMatchObject({ title: winner, version: 2 });
    }
  });

  it('last-write-wins: the later edit is what stays, whichever arrives first', async () => {
    const laptop = device(ada);
    const phone = device(ada);
    for (let round = 0; round < rounds; round += 1) {
      const localId = `lww-race-${round}`;
      await push(laptop, [item.conversation(localId, { title: 'start' })]);
      const earlier = editTime(-1000);
      const later = editTime();
      const [[early], [late]] = await Promise.all([
        push(laptop, [
          item.conversation(localId, { title: 'earlier' }, { base_version: 1, client_updated_at: earlier }),
        ]),
        push(phone, [item.conversation(localId, { title: 'later' }, { base_version: 1, client_updated_at: later })]),
      ]);
      expect(late!.status).toBe('applied');
      // The earlier edit either came first (and was then overwritten) or lost and was told so.
      expect(['applied', 'conflict']).toContain(early!.status);
      const applied = [early, late].filter((r) => r!.status === 'applied').length;
      expect(await current(localId)).toEqual({ title: 'later', version: 1 + applied });
      if (early!.status === 'conflict') expect(early!.row).toMatchObject({ title: 'later' });
    }
  });

  it('two devices creating the same local_id make one row, never a duplicate or an error', async () => {
    const laptop = device(ada);
    const phone = device(ada);
    for (let round = 0; round < rounds; round += 1) {
      const localId = `create-race-${round}`;
      const [[a], [b]] = await Promise.all([
        push(laptop, [item.conversation(localId, { title: 'same' })]),
        push(phone, [item.conversation(localId, { title: 'same' })]),
      ]);
      expect([a!.status, b!.status].sort()).toEqual(['applied', 'unchanged']);
      expect(a!.id).toBe(b!.id);
      const [count] = await sql<{ n: number }[]>`
        select count(*)::int as n from public.conversations where user_id = ${ada.id} and local_id = ${localId}`;
      expect(count!.n).toBe(1);
    }
  });
});
