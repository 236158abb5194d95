/**
 * `tsx stack/cli.ts <command> [--env] [--json] [--check]`: the local stack's command line, behind
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
import type { ServiceStatus } from './supervisor/protocol.ts';
import { logsDir } from './supervisor/supervisor.ts';

const log = (line: string) => console.error(`[stack] ${line}`);

type StatusForm = 'table' | 'env' | 'json';

const formOf = (flags: Set<string>): StatusForm =>
  flags.has('--json') ? 'json' : flags.has('--env') ? 'env' : 'table';

const exitText = (service: ServiceStatus) =>
  service.lastExit ? `${service.lastExit.signal ?? `code ${service.lastExit.code}`} at ${service.lastExit.at}` : '';

/** `SERVICE_<NAME>_…` variables: the name upper-cased, anything but letters and digits as `_`. */
function serviceVariables(services: ServiceStatus[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const service of services) {
    const key = `SERVICE_${service.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    variables[`${key}_STATE`] = service.state;
    variables[`${key}_PID`] = service.pid === undefined ? '' : String(service.pid);
    variables[`${key}_RESTARTS`] = String(service.restarts);
    variables[`${key}_LAST_EXIT`] = exitText(service);
  }
  return variables;
}

/** What `stack:status` prints; `setup` and `stack:start` end with it too. True when everything runs. */
async function printStatus(config: StackConfig, form: StatusForm): Promise<boolean> {
  const status = await stackStatus(config);
  const variables = stackVariables(config);
  const up =
    status.database === 'running' &&
    status.services.length > 0 &&
    status.services.every((service) => service.state === 'running');
  if (form === 'json') {
    console.log(JSON.stringify({ database: status.database, services: status.services, variables }, null, 2));
    return up;
  }
  if (form === 'env') {
    for (const [key, value] of Object.entries({ ...variables, ...serviceVariables(status.services) }))
      console.log(`${key}=${JSON.stringify(value)}`);
    return up;
  }
  console.log(`database: ${status.database}`);
  if (status.services.length === 0) console.log('services: stopped');
  else {
    const rows = [
      ['service', 'state', 'pid', 'restarts', 'last exit'],
      ...status.services.map((service) => [
        service.name,
        service.state,
        service.pid === undefined ? '-' : String(service.pid),
        String(service.restarts),
        exitText(service) || '-',
      ]),
    ];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows)
      console.log(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd());
  }
  const width = Math.max(...Object.keys(variables).map((key) => key.length));
  for (const [key, value] of Object.entries(variables)) console.log(`${key.padStart(width)}: ${value}`);
  console.log(`logs: ${logsDir(config.stackDir)}/<service>.log`);
  return up;
}

const commands: Record<
  string,
  { about: string; flags?: string[]; run: (config: StackConfig, flags: Set<string>) => Promise<number> }
> = {
  setup: {
    about:
      'the whole local stack, as `supabase start` leaves it: database migrated and seeded, gateway with functions and realtime',
    flags: ['--env', '--json'],
    run: async (config, flags) => {
      await setupStack(config, log);
      return (await printStatus(config, formOf(flags))) ? 0 : 1;
    },
  },
  'stack:start': {
    about: 'start the database and the API services (gateway, functions, realtime, …) in the background',
    flags: ['--env', '--json'],
    run: async (config, flags) => {
      const { alreadyRunning } = await startStack(config, log);
      if (!flags.has('--json')) console.log(alreadyRunning ? 'local stack already running' : 'local stack started');
      return (await printStatus(config, formOf(flags))) ? 0 : 1;
    },
  },
  'stack:stop': {
    about: 'stop every API service and the database (data is kept); no process is left behind',
    run: async (config) => {
      const stopped = await stopStack(config);
      console.log(
        `services ${stopped.services ? 'stopped' : 'were not running'}, database ${stopped.database ? 'stopped' : 'was not running'}`,
      );
      return 0;
    },
  },
  'stack:status': {
    about:
      'print each service (state, pid, restarts, last exit), URLs and keys like `supabase status` (--env: KEY=value lines, --json)',
    flags: ['--env', '--json'],
    run: async (config, flags) => ((await printStatus(config, formOf(flags))) ? 0 : 1),
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
    const list = Object.entries(commands).map(
      ([key, { about, flags }]) => `  ${`${key} ${(flags ?? []).join(' ')}`.padEnd(20)} ${about}`,
    );
    const problem = unknownFlag ? `unknown option ${unknownFlag}\n` : '';
    throw usage(`${problem}usage: tsx stack/cli.ts <command> [options]\n${list.join('\n')}`);
  }
  return command.run(loadConfig(), new Set(rest));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
