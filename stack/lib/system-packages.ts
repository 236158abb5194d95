/**
 * Installs what the stack needs from the system's own package manager, and nothing from anywhere
 * else. On Debian or Ubuntu, run as root, missing packages are installed with apt-get; anywhere
 * else the error names exactly what to install.
 */
import { prerequisiteMissing } from './errors.ts';
import { isRoot, onPath, run } from './process.ts';

export interface SystemPackage {
  /** What it is, for messages: "pgTAP extension". */
  what: string;
  /** The Debian package that provides it. */
  aptPackage: string;
  /** Checked before and after installing. */
  present: () => boolean | Promise<boolean>;
}

async function absentOf(packages: readonly SystemPackage[]): Promise<SystemPackage[]> {
  const absent: SystemPackage[] = [];
  for (const candidate of packages) if (!(await candidate.present())) absent.push(candidate);
  return absent;
}

const described = (packages: readonly SystemPackage[]) => packages.map((candidate) => candidate.what).join(', ');

/** Makes sure every package is present, installing the missing ones with apt-get where we may. */
export async function ensureSystemPackages(
  packages: readonly SystemPackage[],
  log: (line: string) => void,
): Promise<void> {
  const absent = await absentOf(packages);
  if (absent.length === 0) return;
  const names = [...new Set(absent.map((candidate) => candidate.aptPackage))];
  if (!isRoot() || !(await onPath('apt-get'))) {
    throw prerequisiteMissing(
      described(absent),
      `install them, e.g. on Debian/Ubuntu: sudo apt-get install -y --no-install-recommends ${names.join(' ')}`,
    );
  }
  log(`installing ${names.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { env });
  const still = await absentOf(absent);
  if (still.length > 0) {
    throw prerequisiteMissing(
      described(still),
      `apt-get installed ${names.join(' ')} but these are still missing; check the apt output above`,
    );
  }
}
