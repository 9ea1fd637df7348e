/** The classify tiers as configured: thresholds, costs, the taxonomy and the fallback endpoint. */
import type { ClassifyOptions } from '../../activities/classify/chain';
import { createFallback } from '../../activities/classify/fallback';
import { trainCore } from '../../activities/classify/core';
import { loadTaxonomy } from '../../activities/classify/taxonomy';
import type { Config } from '../config';

export function classifyOptions(config: Config): Partial<ClassifyOptions> {
  const c = config.classify;
  return {
    coreThreshold: c.coreThreshold,
    fallbackThreshold: c.fallbackThreshold,
    cost: c.cost,
    ...(c.fallback ? { fallback: createFallback(c.fallback) } : {}),
  };
}
