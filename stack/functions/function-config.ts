/**
 * Which edge functions exist and how the gateway treats them: every folder of supabase/functions
 * with an index.ts (folders starting with `_` are shared code, not functions), and its
 * `[functions.<name>]` section of supabase/config.toml. As on the platform, `verify_jwt` is true
 * unless the section says false, and a function with `enabled = false` is not served.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { configInvalid } from '../lib/errors.ts';

export interface FunctionSpec {
  name: string;
  entrypoint: string;
  verifyJwt: boolean;
}

export const functionsDir = (projectRoot: string) => join(projectRoot, 'supabase', 'functions');

export function readFunctionSpecs(projectRoot: string): FunctionSpec[] {
  const toml = parse(readFileSync(join(projectRoot, 'supabase', 'config.toml'), 'utf8')) as Record<string, unknown>;
  const sections = (toml.functions ?? {}) as Record<string, Record<string, unknown>>;
  const dir = functionsDir(projectRoot);
  const specs: FunctionSpec[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('_') || name.startsWith('.')) continue;
    const entrypoint = join(dir, name, 'index.ts');
    if (!existsSync(entrypoint)) continue;
    const section = sections[name] ?? {};
    for (const key of ['verify_jwt', 'enabled'] as const) {
      if (section[key] !== undefined && typeof section[key] !== 'boolean') {
        throw configInvalid(`[functions.${name}] ${key} must be true or false`);
      }
    }
    if (section.enabled === false) continue;
    specs.push({ name, entrypoint, verifyJwt: section.verify_jwt !== false });
  }
  return specs;
}
