/**
 * The package as an app installs it: `npm pack` of client/, installed into a fresh folder beside
 * that app's own copy of @supabase/supabase-js (from npm's cache), and run there as plain ESM:
 * two devices of one account signed in through Auth, a message crossing from one to the other, and
 * an item the server refuses rolled back on its own with the server's reason while the rest of its
 * batch goes through.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seeded, seededPassword } from '../../test-support/auth.ts';

const run = promisify(execFile);
const projectRoot = join(import.meta.dirname, '..', '..');
const app = mkdtempSync(join(tmpdir(), 'virgil-app-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

const supabaseJsVersion = (
  JSON.parse(execFileSync('npm', ['pkg', 'get', 'dependencies'], { cwd: projectRoot, encoding: 'utf8' })) as Record<
    string,
    string
  >
)['@supabase/supabase-js']!;

const appScript = `
import { createClient } from '@supabase/supabase-js';
import { SupabaseMemoryService } from '@virgil/sync-client';
const [url, key, email, password] = process.argv.slice(2);
const until = async (check, what) => {
  const deadline = Date.now() + 15000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
async function device() {
  const supabase = createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } });
  const { data, error } = await supabase.auth.signInWithPassword({ email, password });
  if (error) throw error;
  await supabase.realtime.setAuth(data.session.access_token);
  return SupabaseMemoryService.start({ supabase, userId: data.session.user.id, followNetwork: false, backoff: { baseMs: 100, maxMs: 1000, jitter: 0 } });
}
const a = await device();
const b = await device();
const rollbacks = [];
a.onRollback((rollback) => rollbacks.push({ status: rollback.status, reason: rollback.reason, table: rollback.table }));
const marker = 'packed-' + Math.random().toString(36).slice(2);
const conversation = a.createConversation({ title: marker });
a.saveMessage(conversation.local_id, { role: 'user', content: marker + ' hello' });
a.saveMessage('no-such-conversation-' + marker, { role: 'user', content: 'points nowhere' });
await a.whenSynced();
await until(() => b.client.store.list('messages').some((row) => row.content === marker + ' hello'), 'the message on device B');
console.log(JSON.stringify({ crossed: true, rollbacks, onB: b.listConversations().some((row) => row.title === marker) }));
await a.close();
await b.close();
`;

describe('the packed device client in an app of its own', () => {
  it('installs from its tarball beside the app’s supabase-js and syncs two devices there', async () => {
    // Child processes run asynchronously: a blocked event loop would starve vitest's own messages.
    await run('npm', ['pack', '--pack-destination', app, '--silent'], { cwd: join(projectRoot, 'client') });
    const tarball = readdirSync(app).find((name) => name.endsWith('.tgz'))!;
    expect(tarball).toMatch(/^virgil-sync-client-.*\.tgz$/);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'an-app',
        private: true,
        type: 'module',
        dependencies: { '@virgil/sync-client': `file:./${tarball}`, '@supabase/supabase-js': supabaseJsVersion },
      }),
    );
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: app });
    // The app's supabase-js is its own copy, not the repository's.
    expect(readdirSync(join(app, 'node_modules', '@supabase'))).toContain('supabase-js');
    writeFileSync(join(app, 'app.mjs'), appScript);
    const { stdout: output } = await run(
      process.execPath,
      ['app.mjs', process.env.API_URL!, process.env.PUBLISHABLE_KEY!, seeded.ben, seededPassword],
      { cwd: app, encoding: 'utf8' },
    );
    const result = JSON.parse(output.trim().split('\n').pop()!) as {
      crossed: boolean;
      onB: boolean;
      rollbacks: { status: string; reason?: string; table: string }[];
    };
    expect(result.crossed).toBe(true);
    expect(result.onB).toBe(true);
    expect(result.rollbacks).toEqual([{ status: 'rejected', reason: expect.any(String), table: 'messages' }]);
  }, 180_000);
});
