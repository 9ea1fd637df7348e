// What the Temporal Web UI shows about a batch: the workflow's static summary and details (set at
// start by the API), activity summaries, and the workflow's current details (set by the workflow).
//
// Workflow code imports this module, so it must stay deterministic and sandbox-safe: no imports
// but erased types, no locale-dependent formatting.
import type { BatchOptions, Counts, Stage } from '../contracts/workflow';

/** The server caps a summary at 400 bytes and details at 20,000; stay well inside both. */
const SUMMARY_MAX_CHARS = 200;
const DETAILS_MAX_CHARS = 8_000;

/** 20000 → "20,000", the same on every machine (toLocaleString depends on the process's ICU). */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.abs(Math.trunc(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export interface BatchDescription {
  batchId: string;
  tenantId: string;
  totalItems: number;
  options: BatchOptions;
  metadata?: Record<string, unknown> | null;
  /** A redrive of a finished batch: a new run that picks up its failed items. */
  redrive?: boolean;
}

/** One line for the workflow list: "batch b_… · acme · 20,000 items · classify→ingest→publish". */
export function batchStaticSummary(b: BatchDescription): string {
  const parts = [
    `batch ${b.batchId}`,
    clip(b.tenantId, 40),
    `${formatCount(b.totalItems)} ${b.totalItems === 1 ? 'item' : 'items'}`,
    b.options.stages.join('→'),
  ];
  if (b.options.priority !== 'normal') parts.push(b.options.priority);
  if (b.redrive) parts.push('redrive');
  return clip(parts.join(' · '), SUMMARY_MAX_CHARS);
}

/** Markdown for the workflow page: who, how big, and how it was asked to run. */
export function batchStaticDetails(b: BatchDescription): string {
  const o = b.options;
  const chunks = Math.ceil(b.totalItems / o.chunkSize);
  const lines = [
    `**Batch** \`${b.batchId}\`${b.redrive ? ' (redrive of the failed items)' : ''}`,
    '',
    `- **Tenant:** \`${b.tenantId}\``,
    `- **Items:** ${formatCount(b.totalItems)} in ${formatCount(chunks)} ${chunks === 1 ? 'chunk' : 'chunks'}`,
    `- **Stages:** ${o.stages.join(' → ')}`,
    '',
    '**Options**',
    '',
    `- chunk size: ${formatCount(o.chunkSize)}`,
    `- parallel chunks: ${o.maxParallelChunks}`,
    `- priority: ${o.priority}`,
    `- on cancel: ${o.onCancel}`,
    `- max failure ratio: ${o.maxFailureRatio}`,
  ];
  const metadata = b.metadata && Object.keys(b.metadata).length > 0 ? b.metadata : null;
  if (metadata) lines.push('', '**Metadata**', '', '```json', clip(JSON.stringify(metadata, null, 2), DETAILS_MAX_CHARS / 2), '```');
  return clip(lines.join('\n'), DETAILS_MAX_CHARS);
}

/**
 * "publish chunk 12/800: 25 items", plus the attempt when items come back after a backoff, and
 * what an undo covers ("undo chunk 3/800: 25 items, its failed items").
 */
export function chunkActivitySummary(
  what: Stage | 'undo',
  chunkIndex: number,
  chunkCount: number,
  items: number,
  attempt = 1,
  scope?: string,
): string {
  let text = `${what} chunk ${formatCount(chunkIndex + 1)}/${formatCount(chunkCount)}: ${formatCount(items)} ${items === 1 ? 'item' : 'items'}`;
  if (scope) text += `, ${scope}`;
  return attempt > 1 ? `${text} (attempt ${attempt})` : text;
}

export interface CurrentState {
  /** The status as the BatchStatus search attribute shows it (adds "compensating"). */
  status: string;
  phase: 'run' | 'compensate';
  paused: boolean;
  cancelRequested: { rollback: boolean } | null;
  failureRatioExceeded: boolean;
  totalItems: number;
  counts: Counts;
  chunks: { total: number; done: number; inFlight: number };
  maxParallelChunks: number;
  runs: number;
  /**
   * The batch's one-line summary, repeated here for runs after a continue-as-new: the server does
   * not carry the static summary and details over to them (search attributes it does carry).
   */
  summary?: string;
}

/** Markdown for the workflow's current details: where the batch stands now. */
export function batchCurrentDetails(s: CurrentState): string {
  const c = s.counts;
  const finished = s.totalItems - c.pending;
  const percent = s.totalItems === 0 ? 100 : Math.floor((finished / s.totalItems) * 1000) / 10;
  const lines = [
    ...(s.summary ? [s.summary, ''] : []),
    // "of", not "/": the UI's markdown renderer turns a slash between numbers into a fraction slash.
    `**${s.status}** · ${percent}% · ${formatCount(finished)} of ${formatCount(s.totalItems)} items final`,
    '',
    `- phase: ${s.phase === 'run' ? 'run' : 'compensate (undo, last chunk first)'}`,
    `- chunks: ${formatCount(s.chunks.done)} of ${formatCount(s.chunks.total)} done, ${s.chunks.inFlight} in flight (max ${s.maxParallelChunks})`,
    `- counts: ${formatCount(c.classified)} classified, ${formatCount(c.ingested)} ingested, ${formatCount(c.published)} published, ` +
      `${formatCount(c.failed)} failed, ${formatCount(c.needs_review)} needs review, ${formatCount(c.pending)} pending`,
  ];
  if (c.compensated > 0 || c.orphaned > 0)
    lines.push(`- undo: ${formatCount(c.compensated)} compensated, ${formatCount(c.orphaned)} orphaned`);
  lines.push(`- paused: ${s.paused ? 'yes' : 'no'}`);
  lines.push(`- cancel: ${s.cancelRequested ? `requested (${s.cancelRequested.rollback ? 'rollback' : 'keep'})` : 'no'}`);
  if (s.failureRatioExceeded) lines.push('- stopping: the failure ratio was exceeded');
  if (s.runs > 1) lines.push(`- run ${s.runs} of this batch (continued as new)`);
  return lines.join('\n');
}
