/**
 * The original designs' example requests, as their text writes them (shared/seeds/). Each is kept
 * as the literal JSON of the seed, with a comment naming the file and section. Where a seed gives
 * a template rather than values (001's "uuid", "base64 encoded"), the placeholders are filled with
 * the only values that can mean anything here, and the comment says which.
 */

/** 000_63116323f40bf198.txt, "### 1. POST /api/v1/classify/bulk", with `"priority": "normal"`. */
export const CLASSIFY_BULK_NORMAL = `{
"products": [
{
"product_id": "client-sku-123",
"description": "Men's cotton t-shirt, crew neck",
"origin_country": "CN",
"image_url": null
}
],
"callback_url": "https://client.example.com/webhooks/classification",
"priority": "normal",
"corridor": "MX_US"
}`;

/** The same example with its other priority: the seed writes `"priority": "normal" | "express"`. */
export const CLASSIFY_BULK_EXPRESS = CLASSIFY_BULK_NORMAL.replace('"priority": "normal"', '"priority": "express"');

/**
 * 001_8dcbd0bb7e29d1c6.txt, "### 2. Job Request Schema (`BatchJobCreate`)". Its placeholders:
 * `"uuid"` is the key's tenant (its UUID, as `npm run keys` prints it), `"string"` a filename,
 * `"base64 encoded"` a document's bytes in base64, `"string (optional)"` a collection name, and
 * `"integer (1-10, default 5)"` the default, 5.
 */
export const batchJobCreate = (tenantUuid: string): string => `{
  "tenant_id": "${tenantUuid}",
  "documents": [
    {
      "filename": "invoice-2024-001.txt",
      "content": "${Buffer.from('Invoice 2024-001: 12 cartons of cotton t-shirts, 340 kg').toString('base64')}",
      "metadata": {}
    }
  ],
  "collection": "invoices",
  "priority": 5
}`;

/** 003_7b4aa92802a2235e.txt, "#### `app/schemas/bulk.py`", the examples of BulkSearchRequest's docstring. */
export const BULK_SEARCH_EXAMPLES: Record<string, string> = {
  '# Direct list': '{"part_numbers": ["PN-001", "PN-002", "PN-003"]}',
  '# Text input (comma separated)': '{"part_numbers_text": "PN-001, PN-002, PN-003"}',
  // The docstring escapes the newline for Python ("\\n" in a """ string is \n in the JSON).
  '# Text input (newline separated)': '{"part_numbers_text": "PN-001\\nPN-002\\nPN-003"}',
  '# With idempotency key': '{"part_numbers": ["PN-001"], "idempotency_key": "uuid-here"}',
};

/** The same file, BulkPublishRequest: "Same input options as BulkSearchRequest." */
export const BULK_PUBLISH_EXAMPLE = '{"part_numbers_text": "PN-001, PN-002, PN-003"}';
