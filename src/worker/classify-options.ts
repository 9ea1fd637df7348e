/**
 * The classify tiers as configured: thresholds, costs, the taxonomy and the fallback endpoint.
 * An operator's taxonomy (CLASSIFY_TAXONOMY) is trained here, at worker start, so a bad file stops
 * the worker with a message naming it rather than failing batches later.
 */
import type { ClassifyOptions } from '../../activities/classify/chain';
import { createFallback } from '../../activities/classify/fallback';
import { trainCore } from '../../activities/classify/core';
import { loadTaxonomy } from '../../activities/classify/taxonomy';
import type { Config } from '../config';

export function classifyOptions(config: Config): Partial<ClassifyOptions> {
  const c = config.classify;
  return {
    ...(c.taxonomyPath ? { core: trainCore(loadTaxonomy(c.taxonomyPath)) } : {}),
    coreThreshold: c.coreThreshold,
    fallbackThreshold: c.fallbackThreshold,
    cost: c.cost,
    ...(c.fallback ? { fallback: createFallback(c.fallback) } : {}),
  };
}
