/**
 * The original designs' response and event models, transcribed from their text (shared/seeds/)
 * as the designs type them, independent of batchflow's own schemas: the seed-conformance suite
 * checks real answers against these. A model maps each field to a type in the designs' terms:
 * `str`, `int`, `float` (an int is a float too, as in Pydantic), `bool`, `UUID`, `datetime`,
 * `Optional[...]`, `List[...]`, `Dict`, a nested model, or a list of allowed string values.
 */

export type FieldType = string | readonly string[] | Model | { list: FieldType } | { optional: FieldType };
export interface Model {
  [field: string]: FieldType;
}

const optional = (t: FieldType): FieldType => ({ optional: t });
const list = (t: FieldType): FieldType => ({ list: t });

// --- shared/seeds/000_…: "AR-BULK-01", section 2 "Behavior" -----------------------------------

/** `{"job_id": "uuid", "status": "queued", "estimated_seconds": 120, "poll_url": "/api/v1/jobs/{job_id}"}` */
export const ClassifyAccepted: Model = { job_id: 'UUID', status: ['queued'], estimated_seconds: 'int', poll_url: 'str' };

// --- shared/seeds/001_…: Step 3 "Create Pydantic models" --------------------------------------

/** class BatchJob(BaseModel) */
export const BatchJob: Model = {
  job_id: 'UUID',
  tenant_id: 'UUID',
  // "status": "pending | processing | completed | failed | cancelled" (section 3)
  status: ['pending', 'processing', 'completed', 'failed', 'cancelled'],
  total_documents: 'int',
  processed_count: 'int',
  failed_count: 'int',
  created_at: 'datetime',
  updated_at: 'datetime',
  collection: optional('str'),
  priority: 'int',
};

/** class ProgressEvent(BaseModel); event_type: start, progress, complete, fail, cancel */
export const ProgressEvent: Model = {
  job_id: 'UUID',
  event_type: ['start', 'progress', 'complete', 'fail', 'cancel'],
  document_index: optional('int'),
  filename: optional('str'),
  message: optional('str'),
  timestamp: 'datetime',
};

/** Step 5, stream_job_progress: `yield {"event": "complete", "data": json.dumps({"status": s})}` */
export const StreamComplete: Model = { status: ['completed', 'failed', 'cancelled'] };

/** Step 5, cancel_batch_job: `return {"status": "cancelled"}` */
export const JobCancelled: Model = { status: ['cancelled'] };

// --- shared/seeds/003_…: 9.2 "Bulk API Schemas" and 9.3 "Bulk Routes" ---------------------------

const PARTS_STATUS = ['pending', 'processing', 'completed', 'failed', 'cancelled'];

/** class BulkOperationResponse(BaseModel) */
export const BulkOperationResponse: Model = {
  batch_id: 'str',
  total_items: 'int',
  status: 'str',
  message: 'str',
  idempotency_key: optional('str'),
};

/** class FailedItem(BaseModel) */
export const FailedItem: Model = { part_number: 'str', error: 'str', timestamp: optional('datetime') };

/** class BatchStatusResponse(BaseModel); statuses from the batches table's CHECK (6.1) */
export const BatchStatusResponse: Model = {
  id: 'str',
  batch_type: ['search', 'publish'],
  status: PARTS_STATUS,
  total_items: 'int',
  extracted_count: 'int',
  normalized_count: 'int',
  published_count: 'int',
  failed_count: 'int',
  progress_percent: 'float',
  failed_items: optional(list(FailedItem)),
  error_message: optional('str'),
  idempotency_key: optional('str'),
  created_at: 'datetime',
  updated_at: 'datetime',
  completed_at: optional('datetime'),
};

/** class BatchListResponse(BaseModel) */
export const BatchListResponse: Model = { batches: list(BatchStatusResponse), total: 'int' };

/** cancel_batch: `return {"message": "Batch cancellation initiated", "batch_id": batch_id}` */
export const CancelInitiated: Model = { message: 'str', batch_id: 'str' };

/** FastAPI's HTTPException body: `{"detail": "..."}` */
export const HttpExceptionBody: Model = { detail: 'str' };

// --- the check ---------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// What Pydantic's datetime parses from JSON: ISO 8601, with or without a zone.
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

function checkType(value: unknown, type: FieldType, at: string, problems: string[]): void {
  if (typeof type === 'object' && 'optional' in type && Object.keys(type).length === 1) {
    if (value !== null) checkType(value, type.optional as FieldType, at, problems);
    return;
  }
  if (typeof type === 'object' && 'list' in type && Object.keys(type).length === 1) {
    if (!Array.isArray(value)) problems.push(`${at}: expected a list, got ${JSON.stringify(value)}`);
    else value.forEach((v, i) => checkType(v, type.list as FieldType, `${at}[${i}]`, problems));
    return;
  }
  if (Array.isArray(type)) {
    if (!type.includes(value as string)) problems.push(`${at}: expected one of ${type.join('|')}, got ${JSON.stringify(value)}`);
    return;
  }
  if (typeof type === 'object') {
    problems.push(...conformance(value, type as Model, at));
    return;
  }
  const ok =
    type === 'str'
      ? typeof value === 'string'
      : type === 'int'
        ? Number.isInteger(value)
        : type === 'float'
          ? typeof value === 'number'
          : type === 'bool'
            ? typeof value === 'boolean'
            : type === 'UUID'
              ? typeof value === 'string' && UUID.test(value)
              : type === 'datetime'
                ? typeof value === 'string' && DATETIME.test(value) && !Number.isNaN(Date.parse(value))
                : type === 'Dict'
                  ? typeof value === 'object' && value !== null && !Array.isArray(value)
                  : false;
  if (!ok) problems.push(`${at}: expected ${type}, got ${JSON.stringify(value)}`);
}

/**
 * Every way `value` differs from `model`: a missing field, a field the model lacks (a client with
 * a strict model refuses it), or a value of the wrong type. Empty when it conforms.
 */
export function conformance(value: unknown, model: Model, at = '$'): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${at}: expected an object, got ${JSON.stringify(value)}`];
  const problems: string[] = [];
  const record = value as Record<string, unknown>;
  for (const [field, type] of Object.entries(model)) {
    if (!(field in record)) problems.push(`${at}.${field}: missing`);
    else checkType(record[field], type, `${at}.${field}`, problems);
  }
  for (const field of Object.keys(record)) if (!(field in model)) problems.push(`${at}.${field}: not in the design's model`);
  return problems;
}
