/**
 * The core tier a worker uses when it is not given one: trained once per process, on first use,
 * from the shipped taxonomy.
 */
import type { CoreTier } from './chain';
import { classifyText, HEADINGS } from '../classifier';

let core: CoreTier | undefined;

export function defaultCore(): CoreTier {
  core ??= {
    classify: (text) => {
      const l = classifyText(text);
      return { label: l.label, confidence: l.confidence, candidates: HEADINGS.map((h) => ({ label: h.code, description: h.description, confidence: h.code === l.label ? l.confidence : 0 })) };
    },
  };
  return core;
}
