/** The batch's counts, computed from what the activities recorded: exact, whatever happened. */
import { sql, type Kysely, type Transaction } from 'kysely';
import { emptyCounts, STAGES, type Cost, type Counts, type Stage } from '../contracts/workflow';
import type { Database } from './schema';

type Q = Kysely<Database> | Transaction<Database>;

export interface TallyRow {
  stage: Stage | null;
  status: string | null;
  n: number;
}

/**
 * An item has passed stage X when it reached a later stage, or sits at X in any state but
 * `failed` (needs_review and cancelled items keep the stage they completed). A compensated item's
 * staging and publish were undone, so it no longer counts as ingested or published (its
 * classification stands).
 */
export function countsFromTally(rows: TallyRow[], stages: Stage[]): Counts {
  const counts = emptyCounts(0);
  const passed = (row: TallyRow, x: Stage): boolean => {
    if (row.stage === null) return false;
    if (row.status === 'compensated' && x !== 'classify') return false;
    const at = STAGES.indexOf(row.stage);
    const target = STAGES.indexOf(x);
    return at > target || (at === target && row.status !== 'failed');
  };
  for (const row of rows) {
    switch (row.status) {
      case null:
      case 'pending':
      case 'running':
        counts.pending += row.n;
        break;
      case 'failed':
      case 'needs_review':
      case 'compensated':
      case 'cancelled':
      case 'orphaned':
        counts[row.status] += row.n;
        break;
    }
    if (stages.includes('classify') && passed(row, 'classify')) counts.classified += row.n;
    if (stages.includes('ingest') && passed(row, 'ingest')) counts.ingested += row.n;
    if (stages.includes('publish') && passed(row, 'publish')) counts.published += row.n;
  }
  return counts;
}

/** One aggregate query over the batch, grouped by (stage, status): a handful of rows back. */
export async function countItems(q: Q, batchId: string, stages: Stage[]): Promise<Counts> {
  const { rows } = await sql<TallyRow>`
    select r.stage, r.status, count(*)::int as n
    from batch_items i
    left join item_results r on r.batch_id = i.batch_id and r.seq = i.seq
    where i.batch_id = ${batchId}
    group by r.stage, r.status`.execute(q);
  return countsFromTally(rows, stages);
}

/** The batch's classification cost: what every item's tiers cost, and how many items each tier decided. */
export async function costOf(q: Q, batchId: string): Promise<Cost> {
  const { rows } = await sql<{ tier: string; n: number; total: number }>`
    select classification->>'tier' as tier, count(*)::int as n, coalesce(sum((classification->>'cost')::numeric), 0)::float8 as total
    from item_results
    where batch_id = ${batchId} and classification is not null
    group by 1`.execute(q);
  const cost: Cost = { total: 0, by_tier: {} };
  for (const r of rows) {
    cost.by_tier[r.tier] = r.n;
    cost.total += Number(r.total);
  }
  cost.total = Math.round(cost.total * 1e4) / 1e4;
  return cost;
}
