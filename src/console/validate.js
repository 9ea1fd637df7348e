/**
 * Checks a submission in the browser before it is sent, with the server's rules (src/contracts/http.ts,
 * src/api/upload/*): ref 1..200 characters and unique, text at most 100,000 characters, one of text or
 * content, content base64, at most 50,000 items; a CSV needs a `ref` column; each NDJSON line must parse.
 * Each check answers { items, problems: [{ line, ref?, issue }] } with lines counted from 1 as an
 * editor shows them. The server checks again: this is for showing problems early, not for trust.
 */
export const MAX_REF_CHARS = 200;
export const MAX_TEXT_CHARS = 100_000;
export const MAX_ITEMS = 50_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ITEM_FIELDS = new Set(['ref', 'text', 'content', 'content_type', 'attributes']);

/** Ref and duplicate checks shared by every format; `seen` maps a ref to the line it was first on. */
function checkRef(ref, line, seen) {
  if (typeof ref !== 'string' || ref.length === 0) return 'ref required';
  if (ref.length > MAX_REF_CHARS) return `ref longer than ${MAX_REF_CHARS} characters (${ref.length})`;
  const first = seen.get(ref);
  if (first !== undefined) return `duplicate ref "${ref}" (first on line ${first})`;
  seen.set(ref, line);
  return null;
}

function checkItem(item) {
  if (item.text === undefined && item.content === undefined) return 'one of text or content is required';
  if (item.text !== undefined && typeof item.text !== 'string') return 'text must be a string';
  if (typeof item.text === 'string' && item.text.length > MAX_TEXT_CHARS) return `text longer than ${MAX_TEXT_CHARS} characters`;
  if (item.content !== undefined && (typeof item.content !== 'string' || item.content.length % 4 !== 0 || !BASE64.test(item.content)))
    return 'content must be base64';
  return null;
}

/** Adds an item unless the batch is already full; the one past the limit is reported once. */
function accept(out, item, line) {
  if (out.items.length >= MAX_ITEMS) {
    if (!out.full) out.problems.push({ line, ref: item.ref, issue: `more than ${MAX_ITEMS} items (line ${line} is one too many)` });
    out.full = true;
    return;
  }
  out.items.push(item);
}

/**
 * Refs the way `items_text` takes them: separated by newlines, commas, semicolons or tabs, trimmed,
 * blanks skipped. Each ref becomes an item whose text is the ref.
 */
export function checkRefs(text) {
  const out = { items: [], problems: [] };
  const seen = new Map();
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    for (const part of raw.split(/[,;\t]/)) {
      const ref = part.trim();
      if (!ref) continue;
      const issue = checkRef(ref, i + 1, seen);
      if (issue) out.problems.push({ line: i + 1, ref, issue });
      else accept(out, { ref, text: ref }, i + 1);
    }
  });
  return out;
}

/** Free text, one item a line; each item's ref is `line-<n>` (its line number, so unique). */
export function checkTextLines(text) {
  const out = { items: [], problems: [] };
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const item = { ref: `line-${i + 1}`, text: line };
    const issue = checkItem(item);
    if (issue) out.problems.push({ line: i + 1, ref: item.ref, issue });
    else accept(out, item, i + 1);
  });
  return out;
}

/** One item object a line; blank lines are skipped but counted. */
export function checkNdjson(text) {
  const out = { items: [], problems: [] };
  const seen = new Map();
  text.split(/\r\n|\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let item;
    try {
      item = JSON.parse(raw);
    } catch (err) {
      return void out.problems.push({ line, issue: `not valid JSON (${err.message})` });
    }
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      return void out.problems.push({ line, issue: 'not a JSON object' });
    const unknown = Object.keys(item).find((k) => !ITEM_FIELDS.has(k));
    const issue = unknown ? `unknown field "${unknown}"` : (checkRef(item.ref, line, seen) ?? checkItem(item));
    if (issue) out.problems.push({ line, ref: typeof item.ref === 'string' ? item.ref : undefined, issue });
    else accept(out, item, line);
  });
  if (out.items.length === 0 && out.problems.length === 0) out.problems.push({ line: 1, issue: 'the file holds no items' });
  return out;
}

/** RFC 4180 rows with the line each starts on; a UTF-8 BOM is ignored, empty lines skipped. */
export function csvRows(text) {
  const rows = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let row = [];
  let cell = '';
  let start = 1;
  let quoted = false;
  let any = false;
  const endRow = () => {
    row.push(cell);
    if (any || row.length > 1 || cell !== '') rows.push({ line: start, cells: row });
    row = [];
    cell = '';
    any = false;
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
      any = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      any = true;
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      start = line;
    } else {
      if (!any && cell === '') start = line;
      cell += c;
    }
  }
  if (quoted) return { rows, broken: { line: start, issue: 'a quoted cell is never closed' } };
  if (cell !== '' || row.length) endRow();
  return { rows };
}

/** A header row, then one item a row: ref (required), text, content, content_type, other columns attributes. */
export function checkCsv(text) {
  const out = { items: [], problems: [] };
  const { rows, broken } = csvRows(text);
  if (rows.length === 0) {
    out.problems.push({ line: 1, issue: 'the file holds no items' });
    return out;
  }
  const header = rows[0].cells.map((c) => c.trim());
  const twice = header.find((name, i) => header.indexOf(name) !== i);
  if (header.some((name) => !name)) out.problems.push({ line: rows[0].line, issue: 'a column of the header has no name' });
  else if (twice) out.problems.push({ line: rows[0].line, issue: `the header names the column "${twice}" twice` });
  else if (!header.includes('ref')) out.problems.push({ line: rows[0].line, issue: 'the header has no ref column' });
  if (out.problems.length) return out;
  const seen = new Map();
  for (const { line, cells } of rows.slice(1)) {
    if (cells.length !== header.length) {
      out.problems.push({ line, issue: `${cells.length} cells where the header has ${header.length}` });
      continue;
    }
    const item = { attributes: {} };
    header.forEach((name, i) => {
      const cell = cells[i];
      if (cell === '') return; // an empty cell is an absent value
      if (['ref', 'text', 'content', 'content_type'].includes(name)) item[name] = cell;
      else item.attributes[name] = cell;
    });
    const issue = checkRef(item.ref, line, seen) ?? checkItem(item);
    if (issue) out.problems.push({ line, ref: item.ref, issue });
    else accept(out, item, line);
  }
  if (broken) out.problems.push(broken);
  if (out.items.length === 0 && out.problems.length === 0) out.problems.push({ line: 1, issue: 'the file holds no items' });
  return out;
}

/** Picks the check by the file's name or type. */
export function fileFormat(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv') || file.type === 'text/csv') return 'csv';
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl') || file.type === 'application/x-ndjson') return 'ndjson';
  return null;
}
