/**
 * Finds the PostgreSQL server and the extensions the stack needs, and installs what is missing.
 *
 * On Debian or Ubuntu, run as root, missing pieces are installed with apt-get; anywhere else the
 * error names exactly what to install. Nothing is downloaded from anywhere but the system's own
 * package manager.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
    what: 'pg_prove test runner',
    aptPackage: () => 'libtap-parser-sourcehandler-pgtap-perl',
    present: () => onPath('pg_prove'),
  },
];

/** Locates a PostgreSQL server of the given major version (in `binDir` first, when given), or returns undefined. */
export function findPostgres(major: number, binDir?: string): PostgresInstall | undefined {
  const candidates = [binDir, `/usr/lib/postgresql/${major}/bin`].filter(
    (dir): dir is string => Boolean(dir),
  );
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
export async function ensurePrerequisites(major: number, log: (line: string) => void, binDir?: string): Promise<PostgresInstall> {
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
  return install;
}
