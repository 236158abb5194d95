/**
 * Reads pg_prove's summary. `Tests=N` counts every assertion run; each failing file reports
 * `Failed X/Y subtests`. A run that failed without naming failed assertions (a file that died, or
 * a wrong plan) counts as one failure, so a broken run can never read as green.
 */
export function countPgProve(output: string, exitedZero: boolean): { passed: number; failed: number } {
  const total = Number(/Tests=(\d+)/.exec(output)?.[1] ?? 0);
  let failed = 0;
  for (const match of output.matchAll(/Failed (\d+)\/(\d+) subtests/g)) failed += Number(match[1]);
  if (!exitedZero && failed === 0) failed = 1;
  return { passed: Math.max(0, total - failed), failed };
}
