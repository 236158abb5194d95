/**
 * Finds the PostgreSQL server and the extensions the stack needs, and installs what is missing.
 *
 * Missing packages are installed from the system's package manager (lib/system-packages.ts); the
 * safeupdate module, which no package provides, is built here from our own source.
 */
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prerequisiteMissing } from '../lib/errors.ts';
import { isRoot, onPath, run } from '../lib/process.ts';
import { ensureSystemPackages, type SystemPackage } from '../lib/system-packages.ts';

export interface PostgresInstall {
  /** Folder holding initdb, pg_ctl and postgres. */
  binDir: string;
  /** Folder of extension control files (`pg_config --sharedir`/extension). */
  extensionDir: string;
  /** Folder of loadable modules (`pg_config --pkglibdir`). */
  libDir: string;
}

/** What the stack needs of PostgreSQL, each found where findPostgres finds the server. */
function requirements(major: number, binDir: string | undefined): SystemPackage[] {
  const install = () => findPostgres(major, binDir);
  const hasExtension = (control: string) => () => {
    const found = install();
    return found !== undefined && existsSync(join(found.extensionDir, control));
  };
  return [
    {
      what: 'PostgreSQL server (initdb, pg_ctl, postgres)',
      aptPackage: `postgresql-${major}`,
      present: () => install() !== undefined,
    },
    { what: 'psql client', aptPackage: 'postgresql-client-common', present: () => onPath('psql') },
    { what: 'pgTAP extension', aptPackage: `postgresql-${major}-pgtap`, present: hasExtension('pgtap.control') },
    {
      what: 'wal2json output plugin',
      aptPackage: `postgresql-${major}-wal2json`,
      present: () => {
        const found = install();
        return found !== undefined && existsSync(join(found.libDir, 'wal2json.so'));
      },
    },
    {
      what: 'plpgsql_check extension (used by `supabase db lint`)',
      aptPackage: `postgresql-${major}-plpgsql-check`,
      present: hasExtension('plpgsql_check.control'),
    },
    {
      what: 'PostgreSQL server headers and PGXS (to build the safeupdate module)',
      aptPackage: `postgresql-server-dev-${major}`,
      present: () => {
        const found = install();
        return found !== undefined && existsSync(join(serverIncludeDir(found), 'postgres.h'));
      },
    },
    {
      what: 'pg_prove test runner',
      aptPackage: 'libtap-parser-sourcehandler-pgtap-perl',
      present: () => onPath('pg_prove'),
    },
  ];
}

/** Extensions the stack does not need, for a caller that does (a conformance suite's schema); install with ensureSystemPackages. */
export const optionalExtensions = {
  postgis: (major: number): SystemPackage => ({
    what: 'PostGIS extension',
    aptPackage: `postgresql-${major}-postgis-3`,
    present: () => {
      const found = findPostgres(major);
      return found !== undefined && existsSync(join(found.extensionDir, 'postgis.control'));
    },
  }),
};

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

/**
 * Makes sure everything the stack needs is installed, installing it with apt-get where we may.
 * Returns where PostgreSQL lives.
 */
export async function ensurePrerequisites(
  major: number,
  log: (line: string) => void,
  binDir?: string,
): Promise<PostgresInstall> {
  await ensureSystemPackages(requirements(major, binDir), log);
  const install = findPostgres(major, binDir);
  if (!install) throw prerequisiteMissing(`PostgreSQL ${major}`, `install postgresql-${major}`);
  await ensureSafeupdate(install, log);
  return install;
}
