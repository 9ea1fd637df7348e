/**
 * The BullMQ peer with the work in its stages (the `bullmq…-work` rows): per item, what
 * batchflow's stages do, written as a Node user would write it for one job per item per stage.
 * - classify: the core classifier batchflow's classify stage uses (activities/stages/classify),
 *   trained once in the process before the clock starts, as batchflow's worker does;
 * - ingest: one INSERT … ON CONFLICT per item into a table of the bench's own schema, through a
 *   small `pg` Pool;
 * - publish: one POST per item to the run's publish target, with the Idempotency-Key
 *   `<runId>:<ref>` and the body shape of batchflow's publish (activities/stages/publish/http.ts),
 *   through the same undici keep-alive client (src/net/http-client.ts).
 * No transactions across items, no compensation, no record of what was sent: batchflow's
 * durability is what it leaves out.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { defaultCore } from '../activities/stages/classify/default-model';
import { closeHttpAgent, httpCall } from '../src/net/http-client';
import { loadConfig } from '../src/config';
import type { Stages } from './bullmq-flow';

/** As many connections as ingest jobs run at once (the flow's concurrency per stage). */
const POOL_SIZE = 8;
/** batchflow's publish timeout when none is configured (PUBLISH_TIMEOUT_MS). */
const PUBLISH_TIMEOUT_MS = loadConfig({}).publishTimeoutMs;

/** What the flow's process needs for the work: the database, the table, the target and the run's key prefix. */
export interface WorkEnv {
  databaseUrl: string;
  table: string;
  publishUrl: string;
  runId: string;
}

export function workEnvOf(env: NodeJS.ProcessEnv): WorkEnv | undefined {
  const { DATABASE_URL, BENCH_WORK_TABLE, BENCH_PUBLISH_URL, BENCH_RUN_ID } = env;
  if (!DATABASE_URL || !BENCH_WORK_TABLE || !BENCH_PUBLISH_URL || !BENCH_RUN_ID) return undefined;
  return { databaseUrl: DATABASE_URL, table: BENCH_WORK_TABLE, publishUrl: BENCH_PUBLISH_URL, runId: BENCH_RUN_ID };
}

export const toEnv = (w: WorkEnv): NodeJS.ProcessEnv => ({
  DATABASE_URL: w.databaseUrl,
  BENCH_WORK_TABLE: w.table,
  BENCH_PUBLISH_URL: w.publishUrl,
  BENCH_RUN_ID: w.runId,
});

/** The stages, and what to close after the flow. */
export function workStages(w: WorkEnv): { stages: Stages; close(): Promise<void> } {
  const core = defaultCore();
  const pool = new pg.Pool({ connectionString: w.databaseUrl, max: POOL_SIZE });
  const url = new URL('items', w.publishUrl.endsWith('/') ? w.publishUrl : `${w.publishUrl}/`);
  const stages: Stages = {
    classify: async (item) => {
      const { label, confidence } = core.classify(item.text);
      return { ...item, classification: { label, confidence } };
    },
    ingest: async (item) => {
      await pool.query(
        `insert into ${w.table} (ref, classification, status) values ($1, $2, 'ingested')
         on conflict (ref) do update set classification = excluded.classification, status = excluded.status`,
        [item.ref, JSON.stringify(item.classification)],
      );
      return item;
    },
    publish: async (item) => {
      const res = await httpCall(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${w.runId}:${item.ref}` },
        body: JSON.stringify({ ref: item.ref, text: item.text, classification: item.classification, attributes: {}, content_sha256: null }),
        timeoutMs: PUBLISH_TIMEOUT_MS,
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`publish target answered ${res.status}: ${res.text.slice(0, 200)}`);
    },
  };
  return { stages, close: async () => void (await Promise.all([pool.end(), closeHttpAgent()])) };
}

export interface WorkTable {
  /** schema.table, for the flow's process. */
  table: string;
  /** Items the flow ingested. */
  rows(): Promise<number>;
  /** Drops the schema, table and all. */
  drop(): Promise<void>;
}

/** The bench's side: a schema of its own on `databaseUrl` with the flow's table, counted and dropped after. */
export async function openWorkTable(databaseUrl: string): Promise<WorkTable> {
  const schema = `bench_bullmq_${randomBytes(5).toString('hex')}`;
  const table = `${schema}.items`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
    await admin.query(`create table ${table} (ref text primary key, classification jsonb not null, status text not null)`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  return {
    table,
    rows: async () => Number((await admin.query<{ n: string }>(`select count(*) as n from ${table} where status = 'ingested'`)).rows[0]!.n),
    drop: async () => {
      try {
        await admin.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await admin.end();
      }
    },
  };
}
