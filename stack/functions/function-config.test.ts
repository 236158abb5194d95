import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../config.ts';
import { readFunctionSpecs } from './function-config.ts';

const made: string[] = [];
afterEach(() => made.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function project(toml: string, functions: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'virgil-functions-'));
  made.push(root);
  mkdirSync(join(root, 'supabase', 'functions', '_shared'), { recursive: true });
  writeFileSync(join(root, 'supabase', 'config.toml'), toml);
  for (const name of functions) {
    mkdirSync(join(root, 'supabase', 'functions', name), { recursive: true });
    writeFileSync(join(root, 'supabase', 'functions', name, 'index.ts'), '');
  }
  return root;
}

describe('which functions are served, and how', () => {
  it("serves this project's functions with verify_jwt on", () => {
    const specs = readFunctionSpecs(projectRoot);
    expect(specs.map((s) => [s.name, s.verifyJwt])).toEqual([
      ['score-memory', true],
      ['sync', true],
    ]);
  });

  it('defaults verify_jwt to true, honours false and skips disabled functions and _shared', () => {
    const root = project('[functions.open]\nverify_jwt = false\n[functions.off]\nenabled = false\n', [
      'open',
      'off',
      'plain',
    ]);
    expect(readFunctionSpecs(root).map((s) => [s.name, s.verifyJwt])).toEqual([
      ['open', false],
      ['plain', true],
    ]);
  });

  it('refuses a verify_jwt that is not a boolean', () => {
    const root = project('[functions.f]\nverify_jwt = "no"\n', ['f']);
    expect(() => readFunctionSpecs(root)).toThrow(/verify_jwt must be true or false/);
  });
});
