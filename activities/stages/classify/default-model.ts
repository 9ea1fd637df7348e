/**
 * The core tier a worker uses when it is not given one: trained once per process, on first use,
 * from the shipped taxonomy (about half a second).
 */
import type { CoreTier } from './index';
import { trainCore } from './model';
import { loadTaxonomy } from './taxonomy';

let core: CoreTier | undefined;

export function defaultCore(): CoreTier {
  core ??= trainCore(loadTaxonomy());
  return core;
}
