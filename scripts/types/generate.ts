/**
 * `npm run gen:types`: writes supabase/functions/_shared/database.types.ts from the live local
 * database, in the shape `supabase gen types typescript --local` gives, without Docker (the CLI
 * runs postgres-meta in a container; this reads the same catalog directly).
 *
 *   npm run gen:types                      write the file from the database of the local stack
 *   npm run gen:types -- --check           exit 1, showing the difference, when the file is stale
 *   npm run gen:types -- --stdout          print instead of writing
 *
 * Further options: --schema a,b (default: "public" and config.toml [api] schemas, like the CLI),
 * --postgrest-version X (adds __InternalSupabase, as the hosted generator does), --db-url URL
 * (another database than the stack's), --out PATH.
 *
 * Fidelity: the rules and layout follow postgres-meta's typescript template (what the CLI runs);
 * against the schema of postgres-meta's own test suite (test/db/*.sql) the output is byte-identical
 * to its typegen snapshots, with and without one-to-one detection and with a PostgREST version.
 *
 * The stack is chosen like every other npm script (VIRGIL_STACK_DIR, VIRGIL_DB_PORT, …; see
 * scripts/stack/config.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { parse } from 'smol-toml';
import { report } from '../lib/errors.ts';
import { type StackConfig, loadConfig } from '../stack/config.ts';
import { connectAs } from '../stack/db/platform.ts';
import { readCatalog } from './catalog.ts';
import { lineDiff } from './diff.ts';
import { render } from './render.ts';

export const typesFile = (config: StackConfig) =>
  join(config.projectRoot, 'supabase', 'functions', '_shared', 'database.types.ts');

/** The schemas `supabase gen types` covers by default: public, then config.toml's [api] schemas. */
export function apiSchemas(configToml: string): string[] {
  const toml = parse(configToml) as { api?: { schemas?: unknown } };
  const listed = Array.isArray(toml.api?.schemas) ? toml.api.schemas.filter((s): s is string => typeof s === 'string') : [];
  return [...new Set(['public', ...listed])];
}

export interface GenerateOptions {
  schemas?: string[];
  postgrestVersion?: string;
  dbUrl?: string;
}

export async function generateTypes(config: StackConfig, options: GenerateOptions = {}): Promise<string> {
  const schemas = options.schemas ?? apiSchemas(readFileSync(join(config.projectRoot, 'supabase', 'config.toml'), 'utf8'));
  // As the CLI does, read the catalog as `postgres`: what that role may see is what gets typed.
  const sql = options.dbUrl
    ? postgres(options.dbUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'virgil-gen-types' } })
    : connectAs(config, 'postgres');
  try {
    const catalog = await readCatalog(sql, schemas);
    return render(catalog, options.postgrestVersion === undefined ? {} : { postgrestVersion: options.postgrestVersion });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface CheckResult {
  ok: boolean;
  message: string;
}

/** Compares the committed file with what the database gives now. */
export async function checkTypes(config: StackConfig, options: GenerateOptions & { file?: string } = {}): Promise<CheckResult> {
  const file = options.file ?? typesFile(config);
  const shown = relative(config.projectRoot, file);
  const generated = await generateTypes(config, options);
  if (!existsSync(file)) {
    return { ok: false, message: `${shown} does not exist; run \`npm run gen:types\` and commit it.` };
  }
  const committed = readFileSync(file, 'utf8');
  if (committed === generated) return { ok: true, message: `${shown} matches the schema.` };
  return {
    ok: false,
    message:
      `${shown} does not match the schema of the database; run \`npm run gen:types\` and commit the result.\n` +
      `(- committed, + generated from the database)\n${lineDiff(committed, generated)}`,
  };
}

function parseArgs(argv: string[]) {
  const flags = { check: false, stdout: false } as { check: boolean; stdout: boolean; out?: string } & GenerateOptions;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--check') flags.check = true;
    else if (arg === '--stdout') flags.stdout = true;
    else if (arg === '--schema') flags.schemas = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (arg === '--postgrest-version') flags.postgrestVersion = value();
    else if (arg === '--db-url') flags.dbUrl = value();
    else if (arg === '--out') flags.out = value();
    else throw new Error(`unknown option ${arg} (known: --check, --stdout, --schema, --postgrest-version, --db-url, --out)`);
  }
  return flags;
}

async function main(): Promise<number> {
  const flags = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const file = flags.out ?? typesFile(config);
  if (flags.check) {
    const result = await checkTypes(config, { ...flags, file });
    (result.ok ? console.log : console.error)(result.message);
    return result.ok ? 0 : 1;
  }
  const output = await generateTypes(config, flags);
  if (flags.stdout) {
    process.stdout.write(output);
    return 0;
  }
  mkdirSync(dirname(file), { recursive: true });
  const unchanged = existsSync(file) && readFileSync(file, 'utf8') === output;
  if (!unchanged) writeFileSync(file, output);
  console.log(`${relative(config.projectRoot, file)} ${unchanged ? 'is up to date' : 'written'}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => process.exit(report(error)),
  );
}
