/** zod at the edge: a failed parse becomes `validation_failed` listing every failing path. */
import type { z } from 'zod';
import { validationFailed, type ErrorDetail } from '../errors';

export function detailsFromZod(error: z.ZodError): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push({ path: path ? `${path}.${key}` : key, issue: 'unknown field' });
    } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      details.push({ path, issue: 'required' });
    } else {
      details.push({ path, issue: issue.message });
    }
  }
  return details;
}

/** Parses `data` with `schema`, or throws the contract's 400. */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) throw validationFailed(detailsFromZod(result.error));
  return result.data;
}
