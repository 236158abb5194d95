/**
 * Finds the PostgreSQL server and the extensions the stack needs, and installs what is missing.
 *
 * On Debian or Ubuntu, run as root, missing pieces are installed with apt-get; anywhere else the
 * error names exactly what to install. Nothing is downloaded from anywhere but the system's own
 * package manager.
 */
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prerequisiteMissing } from '../lib/errors.ts';
import { isRoot, onPath, run } from '../lib/process.ts';

export interface PostgresInstall {
  /** Folder holding initdb, pg_ctl and postgres. */
  binDir: string;
  /** Folder of extension control files (`pg_config --sharedir`/extension). */
  extensionDir: string;
  /** Folder of loadable modules (`pg_config --pkglibdir`). */
  libDir: string;
}

interface Requirement {
  what: string;
  aptPackage: (major: number) => string;
  present: (install: PostgresInstall | undefined) => Promise<boolean> | boolean;
}

const requirements: Requirement[] = [
  {
    what: 'PostgreSQL server (initdb, pg_ctl, postgres)',
    aptPackage: (major) => `postgresql-${major}`,
    present: (install) => install !== undefined,
  },
  {
    what: 'psql client',
    aptPackage: () => 'postgresql-client-common',
    present: () => onPath('psql'),
  },
  {
    what: 'pgTAP extension',
    aptPackage: (major) => `postgresql-${major}-pgtap`,
    present: (install) => install !== undefined && existsSync(join(install.extensionDir, 'pgtap.control')),
  },
  {
    what: 'wal2json output plugin',
    aptPackage: (major) => `postgresql-${major}-wal2json`,
    present: (install) => install !== undefined && existsSync(join(install.libDir, 'wal2json.so')),
  },
  {
    what: 'plpgsql_check extension (used by `supabase db lint`)',
    aptPackage: (major) => `postgresql-${major}-plpgsql-check`,
    present: (install) => install !== undefined && existsSync(join(install.extensionDir, 'plpgsql_check.control')),
  },
  {
    what: 'PostgreSQL server headers and PGXS (to build the safeupdate module)',
    aptPackage: (major) => `postgresql-server-dev-${major}`,
    present: (install) => install !== undefined && existsSync(join(serverIncludeDir(install), 'postgres.h')),
  },
  {
    what: 'pg_prove test runner',
    aptPackage: () => 'libtap-parser-sourcehandler-pgtap-perl',
    present: () => onPath('pg_prove'),
  },
];

const pgConfigOf = (install: PostgresInstall) => join(install.binDir, 'pg_config');

/** Debian puts every major's server headers under /usr/include/postgresql/<major>/server. */
function serverIncludeDir(install: PostgresInstall): string {
  const major = /postgresql\/(\d+)\//.exec(install.binDir)?.[1];
  return major ? `/usr/include/postgresql/${major}/server` : join(dirname(install.libDir), 'include', 'server');
}

/** Where the module sources of stack/db/extensions live. */
const extensionSources = join(dirname(fileURLToPath(import.meta.url)), 'extensions');

/**
 * Builds and installs safeupdate (stack/db/extensions/safeupdate, our own source) with PGXS when
 * the installed module is missing or older than its source. The platform preloads a module of that
 * name for the Data API's role; there is no Debian package of it.
 */
async function ensureSafeupdate(install: PostgresInstall, log: (line: string) => void): Promise<void> {
  const source = join(extensionSources, 'safeupdate');
  const installed = join(install.libDir, 'safeupdate.so');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(source, 'safeupdate.c')).mtimeMs) return;
  if (!isRoot()) {
    throw prerequisiteMissing(
      'the safeupdate module',
      `build it as root: sudo make -C ${source} PG_CONFIG=${pgConfigOf(install)} install`,
    );
  }
  log('building the safeupdate module with PGXS');
  // Build in a copy, so that the working tree never holds build products.
  const build = mkdtempSync(join(tmpdir(), 'safeupdate-'));
  try {
    cpSync(source, build, { recursive: true });
    await run('make', ['-C', build, `PG_CONFIG=${pgConfigOf(install)}`, 'install'], {});
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

/** Locates a PostgreSQL server of the given major version (in `binDir` first, when given), or returns undefined. */
export function findPostgres(major: number, binDir?: string): PostgresInstall | undefined {
  const candidates = [binDir, `/usr/lib/postgresql/${major}/bin`].filter((dir): dir is string => Boolean(dir));
  for (const binDir of candidates) {
    if (!['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(binDir, tool)))) continue;
    const prefix = dirname(realpathSync(binDir));
    // Debian's layout: /usr/lib/postgresql/<major>/{bin,lib} and /usr/share/postgresql/<major>.
    const extensionDir = existsSync(`/usr/share/postgresql/${major}/extension`)
      ? `/usr/share/postgresql/${major}/extension`
      : join(prefix, 'share', 'extension');
    return { binDir, extensionDir, libDir: join(prefix, 'lib') };
  }
  return undefined;
}

async function missing(major: number, binDir?: string): Promise<Requirement[]> {
  const install = findPostgres(major, binDir);
  const result: Requirement[] = [];
  for (const requirement of requirements) {
    if (!(await requirement.present(install))) result.push(requirement);
  }
  return result;
}

/**
 * Makes sure everything the stack needs is installed, installing it with apt-get where we may.
 * Returns where PostgreSQL lives.
 */
export async function ensurePrerequisites(
  major: number,
  log: (line: string) => void,
  binDir?: string,
): Promise<PostgresInstall> {
  let absent = await missing(major, binDir);
  if (absent.length > 0) {
    const packages = absent.map((requirement) => requirement.aptPackage(major));
    const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
    if (!isRoot() || !(await onPath('apt-get'))) {
      throw prerequisiteMissing(
        absent.map((requirement) => requirement.what).join(', '),
        `install them, e.g. on Debian/Ubuntu: sudo ${command}`,
      );
    }
    log(`installing ${packages.join(', ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
    absent = await missing(major, binDir);
    if (absent.length > 0) {
      throw prerequisiteMissing(
        absent.map((requirement) => requirement.what).join(', '),
        `apt-get installed ${packages.join(' ')} but these are still missing; check the apt output above`,
      );
    }
  }
  const install = findPostgres(major, binDir);
  if (!install) throw prerequisiteMissing(`PostgreSQL ${major}`, `install postgresql-${major}`);
  await ensureSafeupdate(install, log);
  return install;
}
