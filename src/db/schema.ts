/** Kysely's view of the tables that migrations create. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { BatchOptions, BatchStatus, Counts, ItemStatus, Stage } from '../contracts/workflow';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, T | string, T | string>;

export interface TenantsTable {
  id: string;
  name: string;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  /** sha256 of the key: keys are long random secrets, so a fast hash is enough and lookups stay O(1). */
  key_hash: string;
  label: string | null;
  limits: Json<Record<string, number>>;
  created_at: Timestamp;
  revoked_at: Date | null;
}

/** A tenant's webhook signing secret: it signs while `expires_at` is null or still ahead. */
export interface WebhookSecretsTable {
  id: string;
  tenant_id: string;
  /** Clear: the worker signs with it (see migration 0007). Never listed, never logged. Null: WEBHOOK_SECRET. */
  secret: string | null;
  created_at: Timestamp;
  expires_at: Date | null;
}

export interface BatchesTable {
  id: string;
  tenant_id: string;
  status: BatchStatus;
  priority: string;
  options: Json<Record<string, unknown>>;
  metadata: Json<Record<string, unknown>>;
  callback_url: string | null;
  total_items: number;
  counts: Json<Counts>;
  rolled_back: Generated<boolean>;
  error: Json<{ code: string; message: string } | null>;
  idempotency_key: string | null;
  request_hash: string | null;
  workflow_id: string;
  created_at: Timestamp;
  started_at: Date | null;
  completed_at: Date | null;
  updated_at: Timestamp;
  /** The classification cost at the end: `{total, by_tier}`. */
  cost: Json<{ total: number; by_tier: Record<string, number> } | null>;
  /** The completion webhook's latest delivery (0004): one per run that finished with a callback_url. */
  webhook_delivery_id: string | null;
  webhook_status: 'pending' | 'delivered' | 'failed' | null;
  webhook_attempts: Generated<number>;
  webhook_last_error: string | null;
}

export interface BatchItemsTable {
  batch_id: string;
  seq: number;
  ref: string;
  text: string | null;
  /** base64 as submitted; the ingest stage decodes it. */
  content_b64: string | null;
  content_type: string | null;
  attributes: Json<Record<string, unknown> | null>;
}

export interface Classification {
  label: string;
  confidence: number;
  /** The tier that decided: core, fallback or human_review. */
  tier: string;
  /** What deciding this item cost: every tier consulted. */
  cost?: number;
  /**
   * For an item sent to review, for the person who decides: the best guess (the fallback's pick when
   * that tier answered), then the core tier's next best headings by confidence.
   */
  suggestions?: Suggestion[];
}

export interface Suggestion {
  label: string;
  confidence: number;
}

export interface ItemError {
  code: string;
  message: string;
  retryable: boolean;
  attempts: number;
}

export interface ItemResultsTable {
  batch_id: string;
  seq: number;
  ref: string;
  status: ItemStatus | 'running';
  /** The last stage the item completed, or the stage it failed at. */
  stage: Stage | null;
  classification: Json<Classification | null>;
  published_id: string | null;
  error: Json<ItemError | null>;
  attempts: number;
  /** A staging row of this item exists (ingest did it; compensation undoes it). */
  staged: Generated<boolean>;
  /** The remote item at published_id exists (publish did it; compensation undoes it). */
  published: Generated<boolean>;
  /** A publish request may have gone out; without `published`, the item is in doubt (see migration 0006). */
  publish_sent: Generated<boolean>;
  updated_at: Timestamp;
}

export interface StagedItemsTable {
  tenant_id: string;
  batch_id: string;
  ref: string;
  seq: number;
  text: string | null;
  content_sha256: string | null;
  content_size: number | null;
  classification: Json<Classification | null>;
  attributes: Json<Record<string, unknown> | null>;
  staged_at: Timestamp;
  /** Stable per (tenant, ref): the `{item_id}` of the blob path. */
  item_id: string | null;
  /** `raw/{tenant}/{item_id}/{sha256}` in the blob store, when the item had content. */
  blob_key: string | null;
  content_type: string | null;
}

export interface StagedChunksTable {
  batch_id: string;
  ref: string;
  idx: number;
  text: string;
  start_char: number;
}

export interface AuditEventsTable {
  id: Generated<string>;
  tenant_id: string;
  batch_id: string;
  ref: string;
  action: string;
  details: Json<Record<string, unknown>>;
  at: Timestamp;
}

export interface RateEventsTable {
  id: Generated<string>;
  stage: string;
  at: Timestamp;
}

export interface CatalogItemsTable {
  id: string;
  tenant_id: string;
  batch_id: string;
  ref: string;
  idempotency_key: string;
  payload: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  webhook_secrets: WebhookSecretsTable;
  batches: BatchesTable;
  batch_items: BatchItemsTable;
  item_results: ItemResultsTable;
  staged_items: StagedItemsTable;
  staged_chunks: StagedChunksTable;
  audit_events: AuditEventsTable;
  rate_events: RateEventsTable;
  catalog_items: CatalogItemsTable;
}

export type BatchRow = Selectable<BatchesTable>;

/**
 * A batch's options as the workflow takes them. The column holds what the submission wrote
 * (BatchOptions as JSON); Kysely types jsonb loosely, so this is the one place it is read as such
 * (a row about to be inserted may hold the options themselves).
 */
export const batchOptionsOf = (row: { options: BatchRow['options'] | BatchOptions }): BatchOptions => row.options as BatchOptions;
export type NewBatchRow = Insertable<BatchesTable>;
export type ItemResultRow = Selectable<ItemResultsTable>;
