/** The batch options of a file submission, read from its query string. */
import { BatchOptionsInput, SubmitBatchQuery } from '../../contracts/http';
import { parse } from '../validate';

export type QueryOptions = ReturnType<typeof BatchOptionsInput.parse>;

/**
 * Validates the query parameters with the JSON body's field schemas and fills the same defaults,
 * so `?chunk_size=50` and `{"chunk_size": 50}` are one and the same option. Throws the contract's 400.
 */
export function optionsFromQuery(query: unknown): QueryOptions {
  return parse(BatchOptionsInput, parse(SubmitBatchQuery, query));
}
