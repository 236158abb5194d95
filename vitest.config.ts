import { defineConfig } from 'vitest/config';

// Unit tests sit next to the module they test (`*.test.ts`). Integration tests need the local stack
// that `npm test` starts: the product's under supabase/tests/integration, the stack's own under
// stack/*/tests.
export default defineConfig({
  test: {
    include: [
      'client/**/*.test.ts',
      'stack/**/*.test.ts',
      'bench/**/*.test.ts',
      'scripts/**/*.test.ts',
      'supabase/functions/_shared/**/*.test.ts',
      'supabase/tests/integration/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '.stack/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files share one database; run files one at a time, tests inside a file in order.
    fileParallelism: false,
  },
});
