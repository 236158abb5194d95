import { describe, expect, it } from 'vitest';
import { lineDiff } from './diff.ts';

describe('lineDiff', () => {
  it('shows removed and added lines with their line numbers', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].join('\n');
    const after = ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h'].join('\n');
    expect(lineDiff(before, after, { context: 1 })).toBe(
      ['@@ committed line 3, generated line 3 @@', '  c', '- d', '+ D', '  e', '@@ committed line 7, generated line 7 @@', '  g', '+ h'].join('\n'),
    );
  });

  it('shortens very long diffs', () => {
    const after = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n');
    const diff = lineDiff('', after, { maxLines: 10 }).split('\n');
    expect(diff).toHaveLength(11);
    expect(diff[10]).toMatch(/more diff lines$/);
  });
});
