import { describe, expect, it } from 'vitest';
import { apiSchemas } from './generate.ts';

describe('apiSchemas', () => {
  it('covers public first, then the [api] schemas of config.toml, once each', () => {
    expect(apiSchemas('[api]\nschemas = ["graphql_public", "public", "sync"]\n')).toEqual(['public', 'graphql_public', 'sync']);
  });

  it('falls back to public when config.toml lists none', () => {
    expect(apiSchemas('[db]\nport = 1\n')).toEqual(['public']);
  });
});
