/**
 * Per-file wall times of a test run, for ordering the next: `npm test` starts the slowest files
 * first (from the committed test/file-times.json), so the run's tail is short files rather than one
 * long file running alone on an otherwise idle machine. Also what a run prints at its end: its
 * slowest files, and files whose process lived on well after their last test (a timer, socket or
 * connection left open keeps a test process alive, and the run waits for it).
 */
import fs from 'node:fs';
import path from 'node:path';

/** The committed times (seconds, by path under test/), written by `npm test -- --record-times`. */
export const TIMES_FILE = path.join(__dirname, '..', 'file-times.json');
const TEST_DIR = path.join(__dirname, '..');

export interface FileTime {
  /** Seconds from the file's start to its process's exit. */
  wall: number;
  /** Seconds from its last test's end to its process's exit. */
  linger: number;
}

export function readTimes(file = TIMES_FILE): Record<string, number> {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { seconds: Record<string, number> }).seconds;
  } catch {
    return {};
  }
}

const key = (file: string): string => path.relative(TEST_DIR, path.resolve(file)).split(path.sep).join('/');

/** Slowest first; a file with no recorded time (a new one) goes before all the others. */
export function slowestFirst(files: string[], times: Record<string, number>): string[] {
  const time = (f: string): number => times[key(f)] ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => time(b) - time(a) || a.localeCompare(b));
}

export function writeTimes(times: Map<string, FileTime>, note: string, file = TIMES_FILE): void {
  const seconds = Object.fromEntries(
    [...times].map(([f, t]) => [key(f), Math.round(t.wall * 10) / 10] as const).sort(([, a], [, b]) => b - a),
  );
  fs.writeFileSync(file, `${JSON.stringify({ note, seconds }, null, 2)}\n`);
}

interface TestEvent {
  type: string;
  data?: { name?: string; file?: string; nesting?: number; details?: { duration_ms?: number } };
}

/**
 * Watches the test runner's event stream (passing it on unchanged) and times each file: from its
 * dequeue to its completion, the latter when its process has exited.
 */
export function fileTimer(): {
  transform: (source: AsyncIterable<TestEvent>) => AsyncGenerator<TestEvent>;
  times: Map<string, FileTime>;
  failed: () => boolean;
} {
  const started = new Map<string, number>();
  const lastTestEnd = new Map<string, number>();
  const times = new Map<string, FileTime>();
  let failed = false;
  async function* transform(source: AsyncIterable<TestEvent>): AsyncGenerator<TestEvent> {
    for await (const event of source) {
      const { name, file, nesting } = event.data ?? {};
      const now = Date.now();
      if (event.type === 'test:fail') failed = true;
      if (file && nesting === 0) {
        const whole = name === file;
        if (event.type === 'test:dequeue' && whole) started.set(file, now);
        if (event.type === 'test:complete' && !whole) lastTestEnd.set(file, now);
        if (event.type === 'test:complete' && whole && started.has(file)) {
          const start = started.get(file)!;
          times.set(file, { wall: (now - start) / 1000, linger: (now - (lastTestEnd.get(file) ?? now)) / 1000 });
        }
      }
      yield event;
    }
  }
  return { transform, times, failed: () => failed };
}

/** The slowest files and the lingering ones, for the end of a run. */
export function summary(times: Map<string, FileTime>, top = 8, lingerS = 5): string[] {
  const rows = [...times].sort(([, a], [, b]) => b.wall - a.wall);
  const lines = [
    `slowest files: ${rows
      .slice(0, top)
      .map(([f, t]) => `${key(f)} ${t.wall.toFixed(0)} s`)
      .join(', ')}`,
  ];
  for (const [f, t] of rows.filter(([, t]) => t.linger > lingerS))
    lines.push(`${key(f)}: its process exited ${t.linger.toFixed(0)} s after its last test (a timer, socket or connection left open?)`);
  return lines;
}
