import { classifyText } from './classifier';
import type { StageHandler } from './stage-runner';

/**
 * Labels each item. Below `reviewThreshold` the item is parked for human review rather than
 * published with a guess.
 */
export const classifyHandler =
  (reviewThreshold: number): StageHandler =>
  async (items, ctx) => {
    const results = [];
    for (const item of items) {
      if (ctx.signal.aborted) break;
      const label = classifyText([item.text ?? '', JSON.stringify(item.attributes ?? {})].join(' '));
      results.push(label.confidence >= reviewThreshold ? { seq: item.seq, ok: true as const, classification: label } : { seq: item.seq, review: true as const, classification: label });
      ctx.progress();
    }
    return results;
  };
