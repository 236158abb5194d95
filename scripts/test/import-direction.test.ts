/**
 * Which part of the repository may import which. The product (supabase/) and the device client
 * (client/) never reach into the local stack or the measuring tools, so they deploy and install
 * without them; the stack may use the product's shared protocol; test fixtures that several suites
 * share live in test-support/, the one place tests go through to reach the stack.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

/** Top-level folders a file in the key may not import from. Test files are held to their part's rule. */
const forbidden: Record<string, string[]> = {
  supabase: ['stack', 'bench', 'scripts', 'client'],
  client: ['stack', 'bench', 'scripts'],
  stack: ['client', 'bench', 'scripts'],
  'test-support': ['bench', 'scripts'],
  bench: ['scripts'],
  // The demo app uses the device client as an installed package (`@virgil/sync-client`), never by path.
  examples: ['client', 'supabase', 'bench', 'scripts'],
};

/** Outside tests, only these may be imported at all: test fixtures are never shipped code. */
const testOnly = ['test-support'];

/** Tests, and the helpers of one suite kept beside it (`test-support.ts`, anything under `tests/`). */
const isTestCode = (file: string) => /\.test\.tsx?$|\/test-support\.ts$|\/tests\//.test(file);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(entry.name) ? [path] : [];
  });
}

const importPattern = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

export function importedParts(file: string): { specifier: string; part: string }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(importPattern)].map((match) => {
    const specifier = match[1]!;
    const target = relative(root, resolve(dirname(file), specifier));
    return { specifier, part: target.split('/')[0]! };
  });
}

describe('import direction', () => {
  for (const [part, refused] of Object.entries(forbidden)) {
    it(`${part}/ imports nothing from ${refused.join(', ')}`, () => {
      const offences = sourceFiles(join(root, part)).flatMap((file) =>
        importedParts(file)
          .filter(({ part: target }) => refused.includes(target))
          .map(({ specifier }) => `${relative(root, file)} imports ${specifier}`),
      );
      expect(offences).toEqual([]);
    });
  }

  it('test fixtures are imported by tests and measuring tools only', () => {
    const shipped = ['supabase', 'client', 'stack'].flatMap((part) => sourceFiles(join(root, part)));
    const offences = shipped
      .filter((file) => !isTestCode(file))
      .flatMap((file) =>
        importedParts(file)
          .filter(({ part }) => testOnly.includes(part))
          .map(({ specifier }) => `${relative(root, file)} imports ${specifier}`),
      );
    expect(offences).toEqual([]);
  });

  it('sees the imports it checks', () => {
    // Guards the scanner itself: a pattern that matched nothing would pass every rule above.
    const parts = importedParts(join(root, 'scripts', 'test-all.ts')).map(({ part }) => part);
    expect(parts).toContain('stack');
  });
});
