/** Percentiles and the printed table. */

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of delays in milliseconds. */
export function summarize(delays: number[]): Summary {
  if (delays.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = [...delays].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { count: sorted.length, p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1]! };
}

export interface PhaseRow {
  phase: string;
  targetRate: number | null;
  achievedRate: number | null;
  written: number;
  received: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  leaksToC: number;
  latency: Summary;
  /** How the delay was measured. */
  clock: string;
  note?: string;
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));

export function table(rows: PhaseRow[]): string {
  const header = [
    'phase',
    'target/s',
    'achieved/s',
    'written',
    'received',
    'lost',
    'dup',
    'order',
    'leak→C',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'note',
  ];
  const body = rows.map((row) => [
    row.phase,
    row.targetRate === null ? '-' : String(row.targetRate),
    row.achievedRate === null ? '-' : row.achievedRate.toFixed(0),
    String(row.written),
    String(row.received),
    String(row.lost),
    String(row.duplicates),
    String(row.orderViolations),
    String(row.leaksToC),
    ms(row.latency.p50),
    ms(row.latency.p95),
    ms(row.latency.p99),
    ms(row.latency.max),
    row.note ?? '',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
