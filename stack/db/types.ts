/**
 * The database types the edge functions import (`supabase/functions/_shared/database.types.ts`),
 * made by the real CLI: `supabase gen types --lang typescript --schema public --remote=<stack db>`,
 * then formatted with oxfmt, as the CLI itself advises ("Generated TypeScript is unformatted").
 *
 * Only `public` is typed: it is the one schema the app and the functions reach (tables and the
 * `sync_push` / `sync_pull` / `search_memories` RPCs); `graphql_public` is empty.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../lib/process.ts';
import type { StackConfig } from '../config.ts';
import { supabaseCli } from './supabase-cli.ts';

export const typedSchemas = ['public'];

export const typesFile = (config: StackConfig) =>
  join(config.projectRoot, 'supabase', 'functions', '_shared', 'database.types.ts');

/** The types of the stack's database as the CLI generates them, formatted. */
export async function generateTypes(config: StackConfig): Promise<string> {
  const { stdout } = await supabaseCli(config, [
    'gen',
    'types',
    '--lang',
    'typescript',
    '--schema',
    typedSchemas.join(','),
  ]);
  const scratch = mkdtempSync(join(config.stackDir, 'types-'));
  try {
    const file = join(scratch, 'database.types.ts');
    writeFileSync(file, stdout);
    // oxfmt's own defaults, not the repository's .oxfmtrc.json (found by searching upwards, and
    // ignoring the stack folder): the generated file is left out of `npm run format`.
    const defaults = join(scratch, '.oxfmtrc.json');
    writeFileSync(defaults, '{}\n');
    await run(join(config.projectRoot, 'node_modules', '.bin', 'oxfmt'), ['--config', defaults, file], {
      cwd: scratch,
    });
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Writes the types file; says whether it changed. */
export async function writeTypes(config: StackConfig): Promise<{ file: string; changed: boolean }> {
  const file = typesFile(config);
  const generated = await generateTypes(config);
  const changed = !existsSync(file) || readFileSync(file, 'utf8') !== generated;
  if (changed) writeFileSync(file, generated);
  return { file: relative(config.projectRoot, file), changed };
}

/** Compares the committed file with what the CLI generates now; the message shows the first difference. */
export async function checkTypes(config: StackConfig): Promise<{ ok: boolean; message: string }> {
  const file = typesFile(config);
  const shown = relative(config.projectRoot, file);
  const generated = await generateTypes(config);
  const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (committed === generated) return { ok: true, message: `${shown} equals what \`supabase gen types\` generates.` };
  const a = committed.split('\n');
  const b = generated.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? Math.min(a.length, b.length) : line;
  return {
    ok: false,
    message:
      `${shown} differs from what \`supabase gen types\` generates now (first at line ${at + 1}:\n` +
      `  committed: ${JSON.stringify(a[at] ?? '<end of file>')}\n  generated: ${JSON.stringify(b[at] ?? '<end of file>')}).\n` +
      'Run `npm run gen:types` and commit the file.',
  };
}
