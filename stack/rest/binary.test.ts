import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../config.ts';
import { expectedSha256, postgrestPath, verifiedPostgrest } from './binary.ts';

describe('the PostgREST executable', () => {
  it('is the recorded build', async () => {
    expect(expectedSha256()).toMatch(/^[0-9a-f]{64}$/);
    await expect(verifiedPostgrest(projectRoot)).resolves.toBe(postgrestPath(projectRoot));
  });

  it('is refused when the file differs from the recorded digest', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'postgrest-')), 'postgrest');
    writeFileSync(other, 'not postgrest');
    await expect(verifiedPostgrest(projectRoot, other)).rejects.toThrow(/not the recorded/);
  });

  it('is refused when absent', async () => {
    await expect(verifiedPostgrest(projectRoot, '/nonexistent/postgrest')).rejects.toThrow(/not installed/);
  });
});
