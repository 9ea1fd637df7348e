/**
 * The contract's null rule (docs/api.md, "Conventions"): an optional field sent as `null` means the
 * same as the field left out. Python and JavaScript clients serialize "no value" that way.
 *
 * `optionalNullable(schema)` wraps an optional or defaulted field: `null` becomes `undefined` before
 * the field's own schema runs, so its default applies and its own error messages stay as they are;
 * in the OpenAPI document (requests, where zod-openapi renders the field's input) the field is marked
 * nullable. Every optional field of a request body goes through it (src/contracts/http.ts; the
 * compatibility schemas may use it too).
 */
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/**
 * Adds `null` to what a rendered JSON Schema (OpenAPI 3.1) accepts, keeping its other keywords in
 * place. Arrays are replaced, never pushed to: zod may share them with other renderings.
 */
export function markNullable(schema: JsonSchema): void {
  if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
  else if (Array.isArray(schema.type)) {
    if (!schema.type.includes('null')) schema.type = [...(schema.type as unknown[]), 'null'];
  } else {
    // No single type (anyOf, a $ref, {}): accept the same, or null.
    const inner = { ...schema };
    for (const key of Object.keys(schema)) delete schema[key];
    schema.anyOf = [inner, { type: 'null' }];
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...(schema.enum as unknown[]), null];
  if ('const' in schema) {
    schema.enum = [schema.const, null];
    delete schema.const;
  }
}

const nullToUndefined = (value: unknown): unknown => (value === null ? undefined : value);

/**
 * An optional (`.optional()`) or defaulted (`.default(x)`) field that also takes `null`, meaning the
 * field left out. Refuses, when the schema is built, a field that is neither: null cannot stand for
 * a value the request must give.
 */
export function optionalNullable<T extends z.ZodType>(schema: T) {
  if (schema._zod.optin === undefined) {
    throw new Error('optionalNullable: give it an optional or defaulted schema (`.optional()`, `.default(…)`)');
  }
  return z.preprocess(nullToUndefined, schema).meta({
    override: (ctx: { jsonSchema: JsonSchema }) => {
      // zod-openapi passes the direction too; a response (output) never holds the null.
      if ((ctx as { io?: string }).io !== 'output') markNullable(ctx.jsonSchema);
    },
  });
}
