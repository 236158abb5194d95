/**
 * `tsx stack/cli.ts <command> [--env] [--check]`: the local stack's command line, behind
 * `npm run setup`, `npm run db:*`, `npm run stack:*` and `npm run gen:types`.
 *
 * Reads: supabase/config.toml, the VIRGIL_* environment (see config.ts).
 * Writes: the stack folder (.stack/ unless VIRGIL_STACK_DIR says otherwise).
 * Exit codes: 0 done, 1 failed (the error says what and how to fix it), 2 wrong usage.
 */
import { report, usage } from './lib/errors.ts';
import { loadConfig, type StackConfig } from './config.ts';
import {
  adviseDatabase,
  databaseState,
  lintDatabase,
  resetDatabase,
  startDatabase,
  stopDatabase,
  testDatabase,
} from './db/database.ts';
import { checkTypes, writeTypes } from './db/types.ts';
import { setupStack, stackStatus, stackVariables, startStack, stopStack } from './stack.ts';

const log = (line: string) => console.error(`[stack] ${line}`);

function printVariables(config: StackConfig, asEnv: boolean): void {
  const variables = stackVariables(config);
  const width = Math.max(...Object.keys(variables).map((key) => key.length));
  for (const [key, value] of Object.entries(variables)) {
    console.log(asEnv ? `${key}=${JSON.stringify(value)}` : `${key.padStart(width)}: ${value}`);
  }
}

/** The table `stack:status` prints; `setup` and `stack:start` end with it too. */
async function printStatus(config: StackConfig, asEnv: boolean): Promise<boolean> {
  const status = await stackStatus(config);
  if (!asEnv) console.log(`database: ${status.database}, gateway: ${status.gateway}`);
  printVariables(config, asEnv);
  return status.database === 'running' && status.gateway === 'running';
}

const commands: Record<string, { about: string; flags?: string[]; run: (config: StackConfig, flags: Set<string>) => Promise<number> }> = {
  setup: {
    about: 'the whole local stack, as `supabase start` leaves it: database migrated and seeded, gateway with functions and realtime',
    flags: ['--env'],
    run: async (config, flags) => {
      await setupStack(config, log);
      return (await printStatus(config, flags.has('--env'))) ? 0 : 1;
    },
  },
  'stack:start': {
    about: 'start the database and the API gateway (functions, realtime) in the background',
    flags: ['--env'],
    run: async (config, flags) => {
      const { alreadyRunning } = await startStack(config, log);
      console.log(alreadyRunning ? 'local stack already running' : 'local stack started');
      return (await printStatus(config, flags.has('--env'))) ? 0 : 1;
    },
  },
  'stack:stop': {
    about: 'stop the API gateway and the database (data is kept)',
    run: async (config) => {
      const stopped = await stopStack(config);
      console.log(`gateway ${stopped.gateway ? 'stopped' : 'was not running'}, database ${stopped.database ? 'stopped' : 'was not running'}`);
      return 0;
    },
  },
  'stack:status': {
    about: 'print URLs and keys like `supabase status` (add --env for KEY=value lines)',
    flags: ['--env'],
    run: async (config, flags) => ((await printStatus(config, flags.has('--env'))) ? 0 : 1),
  },
  'db:start': {
    about: 'start the local database, creating it on first use',
    run: async (config) => {
      const before = await startDatabase(config, log);
      console.log(before.running ? 'local database already running' : 'local database started');
      console.log(`DB_URL=${config.db.url}`);
      return 0;
    },
  },
  'db:stop': {
    about: 'stop the local database (its data is kept)',
    run: async (config) => {
      console.log((await stopDatabase(config)) ? 'local database stopped' : 'local database was not running');
      return 0;
    },
  },
  'db:status': {
    about: 'say whether the local database runs, and print its URL',
    run: async (config) => {
      const state = await databaseState(config);
      console.log(`status: ${state.running ? 'running' : state.exists ? 'stopped' : 'not created'}`);
      console.log(`DB_URL=${config.db.url}`);
      return state.running ? 0 : 1;
    },
  },
  'db:reset': {
    about: 'start the database if needed, then apply migrations and seed.sql from scratch with `supabase db reset`',
    run: async (config) => (await resetDatabase(config, { log }), 0),
  },
  'db:lint': {
    about: 'run `supabase db lint`, failing on errors',
    run: async (config) => (await lintDatabase(config), 0),
  },
  'db:advisors': {
    about: "run `supabase db advisors --type all`, failing on warnings (Supabase's security and performance lints)",
    run: async (config) => (await adviseDatabase(config), 0),
  },
  'gen:types': {
    about: 'write supabase/functions/_shared/database.types.ts with `supabase gen types` (--check: fail if it differs)',
    flags: ['--check'],
    run: async (config, flags) => {
      if (flags.has('--check')) {
        const result = await checkTypes(config);
        (result.ok ? console.log : console.error)(result.message);
        return result.ok ? 0 : 1;
      }
      const { file, changed } = await writeTypes(config);
      console.log(`${file} ${changed ? 'written' : 'is up to date'}`);
      return 0;
    },
  },
  'db:test': {
    about: 'run the pgTAP suite with pg_prove',
    run: async (config) => ((await testDatabase(config)).passed ? 0 : 1),
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  const unknownFlag = rest.find((flag) => !(command?.flags ?? []).includes(flag));
  if (!command || unknownFlag) {
    const list = Object.entries(commands).map(([key, { about, flags }]) => `  ${`${key} ${(flags ?? []).join(' ')}`.padEnd(20)} ${about}`);
    const problem = unknownFlag ? `unknown option ${unknownFlag}\n` : '';
    throw usage(`${problem}usage: tsx stack/cli.ts <command> [options]\n${list.join('\n')}`);
  }
  return command.run(loadConfig(), new Set(rest));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
