/**
 * A short line diff for `gen:types --check`: which lines the committed file has (-) and the
 * schema gives (+), with a little context, so the message says what changed without a diff tool.
 */
export function lineDiff(expected: string, actual: string, options: { context?: number; maxLines?: number } = {}): string {
  const context = options.context ?? 2;
  const maxLines = options.maxLines ?? 80;
  const a = expected.split('\n');
  const b = actual.split('\n');
  // Trim the common head and tail, then an LCS table over what is left.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const rows = x.length + 1;
  const cols = y.length + 1;
  const lcs = new Uint32Array(rows * cols);
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i * cols + j] =
        x[i] === y[j] ? (lcs[(i + 1) * cols + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * cols + j] as number, lcs[i * cols + j + 1] as number);
    }
  }
  type Op = { sign: ' ' | '-' | '+'; text: string; lineA: number; lineB: number };
  const ops: Op[] = [];
  for (let k = Math.max(0, head - context); k < head; k++) ops.push({ sign: ' ', text: a[k] as string, lineA: k + 1, lineB: k + 1 });
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ sign: ' ', text: x[i] as string, lineA: head + i + 1, lineB: head + j + 1 });
      i++;
      j++;
    } else if (i < x.length && (j === y.length || (lcs[(i + 1) * cols + j] as number) >= (lcs[i * cols + j + 1] as number))) {
      ops.push({ sign: '-', text: x[i] as string, lineA: head + i + 1, lineB: head + j + 1 });
      i++;
    } else {
      ops.push({ sign: '+', text: y[j] as string, lineA: head + i + 1, lineB: head + j + 1 });
      j++;
    }
  }
  for (let k = 0; k < Math.min(context, tail); k++) {
    const index = a.length - tail + k;
    ops.push({ sign: ' ', text: a[index] as string, lineA: index + 1, lineB: b.length - tail + k + 1 });
  }
  // Keep changed lines and `context` lines around them.
  const keep = ops.map((op, index) =>
    ops.slice(Math.max(0, index - context), index + context + 1).some((near) => near.sign !== ' '),
  );
  const out: string[] = [];
  let skipped = false;
  ops.forEach((op, index) => {
    if (!keep[index]) {
      skipped = true;
      return;
    }
    if (skipped || out.length === 0) out.push(`@@ committed line ${op.lineA}, generated line ${op.lineB} @@`);
    skipped = false;
    out.push(`${op.sign} ${op.text}`);
  });
  if (out.length > maxLines) return [...out.slice(0, maxLines), `… ${out.length - maxLines} more diff lines`].join('\n');
  return out.join('\n');
}
