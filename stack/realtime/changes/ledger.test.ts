import { describe, expect, it } from 'vitest';
import { type Admission, ConfirmationLedger } from './ledger.ts';

/**
 * One step of what the stream tells the ledger. `receive` is a whole transaction arriving (begin,
 * commit, and handed over unless skipped); `unchanged` a reading that found the publication as it
 * was, taken at the current position.
 */
type Step =
  | { receive: bigint; expect?: Admission['kind'] }
  | { begin: true }
  | { ack: bigint }
  | { keepalive: bigint; idle?: boolean }
  | { restart: true }
  | { unchanged: true }
  | { changed: string[] }
  | { answered: [walEnd: bigint, idleThen: boolean, unchangedNow: boolean] };

function play(vouching: boolean, steps: Step[]): { ledger: ConfirmationLedger; admissions: Admission[] } {
  const ledger = new ConfirmationLedger(vouching);
  const admissions: Admission[] = [];
  for (const step of steps) {
    if ('receive' in step) {
      ledger.begin();
      const admission = ledger.commit(step.receive);
      admissions.push(admission);
      if (step.expect) expect(admission.kind, `receive ${step.receive}`).toBe(step.expect);
      if (admission.kind !== 'skip') ledger.handedOver(step.receive);
    } else if ('begin' in step) ledger.begin();
    else if ('ack' in step) ledger.acknowledge(step.ack);
    else if ('keepalive' in step) {
      const idle = ledger.keepalive(step.keepalive);
      if (step.idle !== undefined) expect(idle, `keepalive ${step.keepalive}`).toBe(step.idle);
    } else if ('restart' in step) {
      ledger.restarted();
      ledger.streaming();
    } else if ('unchanged' in step) ledger.unchanged(ledger.readingPosition);
    else if ('changed' in step) ledger.changed(new Set(step.changed));
    else ledger.answered(...step.answered);
  }
  return { ledger, admissions };
}

const cases: { name: string; vouching?: boolean; steps: Step[]; confirmable: bigint }[] = [
  { name: 'nothing is confirmed before anything is acknowledged', steps: [{ receive: 100n }], confirmable: 0n },
  { name: 'an acknowledged transaction is confirmed', steps: [{ receive: 100n }, { ack: 100n }], confirmable: 100n },
  {
    name: 'out of order: a later acknowledgement stops just below the earlier transaction still in flight',
    steps: [{ receive: 100n }, { receive: 200n }, { ack: 200n }],
    confirmable: 99n,
  },
  {
    name: 'out of order: once the earlier one is acknowledged too, both are confirmed',
    steps: [{ receive: 100n }, { receive: 200n }, { ack: 200n }, { ack: 100n }],
    confirmable: 200n,
  },
  {
    name: 'three in flight, the middle one acknowledged first',
    steps: [{ receive: 100n }, { receive: 200n }, { receive: 300n }, { ack: 200n }, { ack: 100n }],
    confirmable: 200n,
  },
  {
    name: 'a keepalive while idle counts its walEnd as handled',
    steps: [{ receive: 100n }, { ack: 100n }, { keepalive: 300n, idle: true }],
    confirmable: 300n,
  },
  {
    name: 'a keepalive never lowers what was handled',
    steps: [{ receive: 400n }, { ack: 400n }, { keepalive: 300n, idle: true }],
    confirmable: 400n,
  },
  {
    name: 'a keepalive while a transaction is in flight counts for nothing, even after it is acknowledged',
    steps: [{ receive: 100n }, { keepalive: 300n, idle: false }, { ack: 100n }],
    confirmable: 100n,
  },
  {
    name: 'a keepalive while a transaction is open counts for nothing',
    steps: [{ begin: true }, { keepalive: 300n, idle: false }],
    confirmable: 0n,
  },
  {
    name: 'a transaction left open by a dropped connection does not keep the next one from being idle',
    steps: [{ begin: true }, { restart: true }, { keepalive: 300n, idle: true }],
    confirmable: 300n,
  },
  {
    name: 'after a reconnect the server sends again what was not confirmed: an acknowledged transaction is skipped',
    steps: [
      { receive: 100n },
      { ack: 100n },
      { restart: true },
      { receive: 100n, expect: 'skip' },
      { receive: 200n, expect: 'deliver' },
    ],
    confirmable: 100n,
  },
  {
    name: 'after a reconnect a transaction not yet acknowledged is handed over again',
    steps: [{ receive: 100n }, { restart: true }, { receive: 100n, expect: 'deliver' }],
    confirmable: 0n,
  },
  {
    name: 'a reconnect forgets what was in flight: its acknowledgement, when it comes, still counts',
    steps: [{ receive: 100n }, { receive: 200n }, { restart: true }, { ack: 100n }],
    confirmable: 100n,
  },
  // With a publication: readings of it bound what is confirmed.
  {
    name: 'publication: nothing is confirmed before a reading vouches',
    vouching: true,
    steps: [{ receive: 100n }, { ack: 100n }],
    confirmable: 0n,
  },
  {
    name: 'publication: one reading is not enough (it only marks the position as candidate)',
    vouching: true,
    steps: [{ receive: 100n }, { ack: 100n }, { unchanged: true }],
    confirmable: 0n,
  },
  {
    name: 'publication: the second unchanged reading vouches for what the first saw',
    vouching: true,
    steps: [{ receive: 100n }, { ack: 100n }, { unchanged: true }, { unchanged: true }],
    confirmable: 100n,
  },
  {
    name: 'publication: a reading vouches only for the previous reading’s position, not for what came since',
    vouching: true,
    steps: [
      { receive: 100n },
      { ack: 100n },
      { unchanged: true },
      { receive: 200n },
      { ack: 200n },
      { unchanged: true },
    ],
    confirmable: 100n,
  },
  {
    name: 'publication: vouched for but still in flight is not confirmed',
    vouching: true,
    steps: [{ receive: 100n }, { unchanged: true }, { unchanged: true }],
    confirmable: 0n,
  },
  {
    name: 'publication: a change sends the candidate back to the ceiling, and readings vouch for nothing while replaying',
    vouching: true,
    steps: [
      { receive: 100n },
      { ack: 100n },
      { unchanged: true },
      { unchanged: true },
      { receive: 200n },
      { ack: 200n },
      { unchanged: true },
      { changed: ['public.a'] },
      { restart: true },
      { unchanged: true },
      { unchanged: true },
    ],
    confirmable: 100n,
  },
  {
    name: 'publication: past the replay, readings vouch again',
    vouching: true,
    steps: [
      { receive: 100n },
      { ack: 100n },
      { changed: ['public.a'] },
      { restart: true },
      { receive: 100n, expect: 'supplement' },
      { ack: 100n },
      { receive: 150n, expect: 'deliver' },
      { ack: 150n },
      { unchanged: true },
      { unchanged: true },
    ],
    confirmable: 150n,
  },
  {
    name: 'publication: an idle stream asked for its position vouches for walEnd at once',
    vouching: true,
    steps: [{ receive: 100n }, { ack: 100n }, { keepalive: 300n, idle: true }, { answered: [300n, true, true] }],
    confirmable: 300n,
  },
  {
    name: 'publication: no vouching by an answer if the stream was not idle when asked',
    vouching: true,
    steps: [{ receive: 100n }, { keepalive: 300n }, { ack: 100n }, { answered: [300n, false, true] }],
    confirmable: 0n,
  },
  {
    name: 'publication: no vouching by an answer if a transaction arrived while the reading ran',
    vouching: true,
    steps: [{ keepalive: 300n, idle: true }, { receive: 400n }, { answered: [300n, true, true] }],
    confirmable: 0n,
  },
  {
    name: 'publication: no vouching by an answer whose reading found the publication changed',
    vouching: true,
    steps: [{ keepalive: 300n, idle: true }, { answered: [300n, true, false] }],
    confirmable: 0n,
  },
  {
    name: 'publication: no vouching by an answer while replaying',
    vouching: true,
    steps: [
      { receive: 100n },
      { ack: 100n },
      { changed: ['public.a'] },
      { restart: true },
      { keepalive: 300n, idle: true },
      { answered: [300n, true, true] },
    ],
    confirmable: 0n,
  },
  {
    name: 'without a publication, readings and answers change nothing: acknowledged is confirmable',
    steps: [{ receive: 100n }, { ack: 100n }, { unchanged: true }, { answered: [50n, true, true] }],
    confirmable: 100n,
  },
];

describe('ConfirmationLedger', () => {
  it.each(cases)('$name', ({ vouching = false, steps, confirmable }) => {
    expect(play(vouching, steps).ledger.confirmable()).toBe(confirmable);
  });

  it('after the publication gained tables, what is decoded again brings only the tables the old lists lacked', () => {
    const { admissions } = play(true, [
      { receive: 100n },
      { ack: 100n },
      { receive: 200n },
      { ack: 200n },
      { changed: ['public.a', 'public.b'] },
      { restart: true },
      // A second change before the replay is over: only the tables both lists had count as known.
      { changed: ['public.a', 'public.c'] },
      { restart: true },
      { receive: 100n },
      { receive: 200n },
      { receive: 300n },
    ]);
    expect(admissions.slice(2)).toEqual([
      { kind: 'supplement', known: new Set(['public.a']) },
      { kind: 'supplement', known: new Set(['public.a']) },
      { kind: 'deliver' },
    ]);
  });

  it('a supplement is handed over even at or below what was delivered; a plain replay is skipped', () => {
    const { admissions } = play(true, [
      { receive: 100n },
      { ack: 100n },
      { changed: ['public.a'] },
      { restart: true },
      { receive: 100n },
      { receive: 150n },
      { ack: 150n },
      { restart: true },
      { receive: 100n },
    ]);
    expect(admissions.map((admission) => admission.kind)).toEqual(['deliver', 'supplement', 'deliver', 'skip']);
  });
});
