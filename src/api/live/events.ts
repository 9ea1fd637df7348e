/**
 * The events a live stream carries, and how a poller's finding becomes the next event for one
 * watcher: ids are positions in the batch's state (position.ts), so a watcher never gets one twice.
 */
import { itemBody, type BatchBody, type ItemView } from '../../batches';
import { isTerminal } from '../../contracts/workflow';
import { formatId, type Position } from './position';

export type LiveEventType = 'progress' | 'item_failed' | 'completed' | 'partial' | 'failed' | 'cancelled';
/** The terminal event is named after the batch's final status; nothing follows it. */
export const isTerminalEventType = (t: LiveEventType): boolean => t !== 'progress' && t !== 'item_failed';
export interface LiveEvent {
  id: string;
  type: LiveEventType;
  data: Record<string, unknown>;
}
/** What a poll found, before it is numbered for a given watcher. */
export type Snapshot = { kind: 'snapshot'; body: BatchBody; d: number; h: string };
export type Found = Snapshot | { kind: 'failed'; item: ItemView };

const itemData = (batchId: string, i: ItemView): Record<string, unknown> => ({ batch_id: batchId, ...itemBody(i) });

/**
 * Numbers `found` for a watcher at `pos` and advances it; undefined when the watcher already has it
 * (a failed item below its cursor, the snapshot it last saw). The terminal event always goes out:
 * it is what ends every stream.
 */
export function advance(pos: Position, found: Found, batchId: string): LiveEvent | undefined {
  if (found.kind === 'failed') {
    if (found.item.seq < pos.f) return undefined;
    pos.f = found.item.seq + 1;
    return { id: formatId(pos), type: 'item_failed', data: itemData(batchId, found.item) };
  }
  const terminal = isTerminal(found.body.status);
  if (!terminal && found.h === pos.h) return undefined;
  // An answer behind what the watcher has seen is old news, not a step back: the database row
  // that answers when the workflow's query fails (a fresh API process, a busy worker) lags the
  // workflow, and a client that reconnected mid-run saw finished counts go back to 0.
  if (!terminal && found.d < pos.d) return undefined;
  pos.d = found.d;
  pos.h = found.h;
  return { id: formatId(pos), type: terminal ? (found.body.status as LiveEventType) : 'progress', data: { ...found.body } };
}
