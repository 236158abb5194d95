/**
 * The supervisor process that `npm run setup` / `stack:start` start in the background:
 * `node main.ts '<plan as JSON>'`, the plan being what `children.ts` resolved (the project, the stack
 * folder and every child to run). It imports nothing but the supervisor itself and runs on Node's
 * own type stripping, so it starts at once and has as little as possible that could fail.
 *
 * Writes: `<stack folder>/supervisor.json` and `<stack folder>/logs/` (supervisor.ts).
 * Stops on SIGTERM or SIGINT, stopping every child first.
 */
import { Supervisor, type ChildSpec } from './supervisor.ts';

export interface SupervisorPlan {
  projectRoot: string;
  stackDir: string;
  children: ChildSpec[];
}

function main(argv: string[]): void {
  const plan = JSON.parse(argv[0] ?? 'null') as SupervisorPlan | null;
  if (!plan || !Array.isArray(plan.children)) {
    console.error("usage: node stack/supervisor/main.ts '<plan as JSON>' (stack.ts starts it)");
    process.exit(2);
  }
  const supervisor = new Supervisor({ ...plan, env: process.env });
  supervisor.start();
  console.log(`[supervisor] pid ${process.pid}: ${plan.children.map((child) => child.name).join(', ')}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void supervisor.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2));
