/**
 * The classify stage as a chain of tiers: the local `core` model (model.ts); below its threshold,
 * the `fallback` endpoint (fallback.ts, when configured); below the fallback threshold, a person
 * (`needs_review`). Every item records the tier that decided and what the tiers it consulted cost.
 *
 * Nothing to undo: classify writes only the item's own result (its classification, on its row),
 * where the compensation records the item's end anyway; nothing outside the item is touched.
 */
import type { StageHandler, ItemResult, StageModule } from '../runner';
import { defaultCore } from './default-model';
import { UNCLASSIFIED } from './model';
import type { Candidate, FallbackAnswer } from './fallback';

export interface CoreTier {
  classify(text: string): { label: string; confidence: number; candidates: Candidate[] };
}

export interface ClassifyOptions {
  core: CoreTier;
  /** At or above this core confidence, the core tier decides. */
  coreThreshold: number;
  /** At or above this fallback confidence, the fallback tier decides; below, a person does. */
  fallbackThreshold: number;
  fallback?: (text: string, candidates: Candidate[]) => Promise<FallbackAnswer>;
  cost: { core: number; fallback: number; human_review: number };
}

/** How many of the core tier's candidates an item in review carries, for the person who decides. */
export const SUGGESTIONS = 3;

/** The original design's thresholds and per-decision costs, when config does not say otherwise. */
const DEFAULTS = { coreThreshold: 0.85, fallbackThreshold: 0.7, cost: { core: 0.001, fallback: 0.02, human_review: 0.5 } };

/**
 * The stage as the worker runs it: `opts` over the defaults; without a core tier, the model trained
 * on the shipped taxonomy; no fallback unless given. No undo (see above).
 */
export function classifyStage(opts: Partial<ClassifyOptions> = {}): StageModule {
  return { handler: classifyHandler({ ...DEFAULTS, core: opts.core ?? defaultCore(), ...opts }), undo: null };
}

const round = (n: number): number => Math.round(n * 1e6) / 1e6;

/** The best guess first, then the core tier's candidates it does not repeat, up to SUGGESTIONS. */
function suggestionsOf(best: { label: string; confidence: number }, candidates: Candidate[]): Array<{ label: string; confidence: number }> {
  const rest = candidates.filter((c) => c.label !== best.label).map((c) => ({ label: c.label, confidence: c.confidence }));
  const first = best.label === UNCLASSIFIED ? [] : [{ label: best.label, confidence: best.confidence }];
  return [...first, ...rest].slice(0, SUGGESTIONS);
}

export const classifyHandler =
  (opts: ClassifyOptions): StageHandler =>
  async (items, ctx) => {
    const results: ItemResult[] = [];
    for (const item of items) {
      if (ctx.signal.aborted) break;
      const text = [item.text ?? '', ...Object.values(item.attributes ?? {}).filter((v) => typeof v === 'string')].join(' ').trim();
      const core = opts.core.classify(text);
      if (core.confidence >= opts.coreThreshold) {
        results.push({
          seq: item.seq,
          ok: true,
          classification: { label: core.label, confidence: core.confidence, tier: 'core', cost: opts.cost.core },
        });
      } else {
        let best = { label: core.label, confidence: core.confidence, cost: opts.cost.core };
        // With no candidate at all (text the core has never seen), the fallback has nothing to pick from.
        if (opts.fallback && core.candidates.length > 0) {
          const answer = await opts.fallback(text, core.candidates);
          if (!answer.ok) {
            results.push({
              seq: item.seq,
              ok: false,
              failure: {
                code: answer.retryable ? 'fallback_unavailable' : 'fallback_rejected',
                message: answer.message,
                retryable: answer.retryable,
                retryAfterMs: answer.retryAfterMs,
              },
            });
            ctx.progress();
            continue;
          }
          best = { label: answer.label, confidence: answer.confidence, cost: round(opts.cost.core + opts.cost.fallback) };
          if (answer.confidence >= opts.fallbackThreshold) {
            results.push({
              seq: item.seq,
              ok: true,
              classification: { label: answer.label, confidence: answer.confidence, tier: 'fallback', cost: best.cost },
            });
            ctx.progress();
            continue;
          }
        }
        // Nobody is sure enough: a person decides. The best guess goes with it, and the core tier's
        // next best headings, so that a product from outside the taxonomy still comes with leads.
        results.push({
          seq: item.seq,
          review: true,
          classification: {
            label: best.label,
            confidence: best.confidence,
            tier: 'human_review',
            cost: round(best.cost + opts.cost.human_review),
            suggestions: suggestionsOf(best, core.candidates),
          },
        });
      }
      ctx.progress();
    }
    return results;
  };
