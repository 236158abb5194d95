/** The one precedence of config.ts: default, then config.toml, then the environment; bad values refused. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'virgil-config-'));
const toml = (text: string) => {
  const file = join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(file, text);
  return file;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfig', () => {
  it('takes the defaults when neither config.toml nor the environment says otherwise', () => {
    const config = loadConfig({}, toml(''));
    expect(config.api.port).toBe(54321);
    expect(config.db.port).toBe(54322);
    expect(config.stackDir).toBe(join(projectRoot, '.stack'));
    expect(config.realtime).toMatchObject({
      privateOnly: false,
      poolMax: 8,
      checkLanes: 4,
      errorBackoffMs: 1000,
      slot: 'virgil_realtime',
      broadcastSlot: 'virgil_realtime_messages',
      debug: false,
    });
  });

  it('reads the config.toml and signing keys of the project VIRGIL_PROJECT_DIR names', () => {
    const project = join(dir, 'other-project');
    mkdirSync(join(project, 'supabase'), { recursive: true });
    writeFileSync(join(project, 'supabase', 'config.toml'), '[api]\nport = 40101\n');
    const config = loadConfig({ VIRGIL_PROJECT_DIR: project });
    expect([config.projectDir, config.projectRoot, config.api.port]).toEqual([project, projectRoot, 40101]);
    expect(loadConfig({}).projectDir).toBe(projectRoot);
  });

  it('lets config.toml override a default, and the environment override config.toml', () => {
    const file = toml('[api]\nport = 40001\n[db]\nport = 40002\n[realtime]\nprivate_only = true\n');
    const fromToml = loadConfig({}, file);
    expect([fromToml.api.port, fromToml.db.port, fromToml.realtime.privateOnly]).toEqual([40001, 40002, true]);
    const fromEnv = loadConfig(
      { VIRGIL_API_PORT: '40011', VIRGIL_DB_PORT: '40012', VIRGIL_REALTIME_PRIVATE_ONLY: '0' },
      file,
    );
    expect([fromEnv.api.port, fromEnv.db.port, fromEnv.realtime.privateOnly]).toEqual([40011, 40012, false]);
    expect(fromEnv.api.url).toBe('http://127.0.0.1:40011');
    // An empty variable is unset.
    expect(loadConfig({ VIRGIL_API_PORT: '' }, file).api.port).toBe(40001);
  });

  it('reads the Data API settings from [api], and leaves the service off when [api] enabled = false', () => {
    const defaults = loadConfig({}, toml(''));
    expect(defaults.rest).toEqual({
      enabled: true,
      schemas: ['public', 'graphql_public'],
      extraSearchPath: ['public', 'extensions'],
      maxRows: 1000,
    });
    expect(defaults.disabledServices).toEqual([]);
    const off = loadConfig({}, toml('[api]\nenabled = false\nschemas = ["public"]\nmax_rows = 50\n'));
    expect(off.rest).toMatchObject({ enabled: false, schemas: ['public'], maxRows: 50 });
    expect(off.disabledServices).toEqual(['rest']);
    expect(() => loadConfig({}, toml('[api]\nschemas = ["public; drop"]\n'))).toThrow(/schema names/);
  });

  it('reads every realtime setting from its variable', () => {
    const config = loadConfig(
      {
        VIRGIL_REALTIME_POOL_MAX: '3',
        VIRGIL_REALTIME_CHECK_LANES: '2',
        VIRGIL_REALTIME_ERROR_BACKOFF_MS: '0',
        VIRGIL_REALTIME_SLOT: 'a_slot',
        VIRGIL_REALTIME_BROADCAST_SLOT: 'b_slot',
        VIRGIL_REALTIME_DEBUG: '1',
      },
      toml(''),
    );
    expect(config.realtime).toMatchObject({
      privateOnly: false,
      poolMax: 3,
      checkLanes: 2,
      errorBackoffMs: 0,
      slot: 'a_slot',
      broadcastSlot: 'b_slot',
      debug: true,
    });
  });

  it('refuses a value out of range with CONFIG_INVALID naming the setting', () => {
    const refused = (env: NodeJS.ProcessEnv, text = '') => {
      try {
        loadConfig(env, toml(text));
      } catch (error) {
        return `${(error as { code: string }).code}: ${(error as Error).message}`;
      }
      return 'accepted';
    };
    expect(refused({ VIRGIL_API_PORT: '70000' })).toMatch(/^CONFIG_INVALID: .*VIRGIL_API_PORT/);
    expect(refused({ VIRGIL_DB_PORT: '12ab' })).toMatch(/^CONFIG_INVALID: .*VIRGIL_DB_PORT/);
    expect(refused({ VIRGIL_REALTIME_PRIVATE_ONLY: 'yes' })).toMatch(/^CONFIG_INVALID: .*VIRGIL_REALTIME_PRIVATE_ONLY/);
    expect(refused({ VIRGIL_REALTIME_SLOT: 'Bad-Slot' })).toMatch(/^CONFIG_INVALID: .*VIRGIL_REALTIME_SLOT/);
    expect(refused({}, '[api]\nport = "x"\n')).toMatch(/^CONFIG_INVALID: .*\[api\] port/);
    expect(refused({}, '[db]\nmajor_version = 16\n')).toMatch(/^CONFIG_INVALID: .*major_version/);
  });
});
