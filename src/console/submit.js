/* global window */
/**
 * The submission page: paste refs or text lines, or pick a CSV/NDJSON file; set the batch options;
 * see what is valid before sending. Pasted input: invalid lines are listed with their reasons and
 * left out, and the button says how many items go. A file is sent as it is (the server refuses a
 * file with any bad row), so a file with problems cannot be sent until it is fixed.
 */
import { ApiError, request } from './api.js';
import { errorBox, fill, h } from './dom.js';
import { checkCsv, checkNdjson, checkRefs, checkTextLines, fileFormat, MAX_ITEMS } from './validate.js';

const STAGES = ['classify', 'ingest', 'publish'];
const SHOWN_PROBLEMS = 200;

export function submitView({ onUnauthorized }) {
  const mode = h(
    'select',
    { id: 'input-mode' },
    h('option', { value: 'refs' }, 'refs (one per line, or separated by commas, semicolons, tabs)'),
    h('option', { value: 'text' }, 'free text, one item per line'),
    h('option', { value: 'file' }, 'a CSV or NDJSON file'),
  );
  const textarea = h('textarea', { id: 'items-input', placeholder: 'sku-1\nsku-2, sku-3\n...', spellcheck: 'false' });
  const file = h('input', { id: 'file-input', type: 'file', accept: '.csv,.ndjson,.jsonl,text/csv,application/x-ndjson' });
  const fileRow = h('label', { hidden: true }, h('span', 'File (CSV with a ref column, or NDJSON: one item object a line)'), file);
  const stages = STAGES.map((s) => h('input', { type: 'checkbox', id: `stage-${s}`, value: s, checked: true }));
  // Empty by default: the server chooses both from the batch size (docs/api.md, "Default chunking").
  const chunkSize = h('input', { id: 'chunk-size', type: 'number', min: 1, max: 500, placeholder: 'auto' });
  const parallel = h('input', { id: 'max-parallel', type: 'number', min: 1, max: 64, placeholder: 'auto' });
  const priority = h('select', { id: 'priority' }, h('option', 'normal'), h('option', 'express'));
  const onCancel = h(
    'select',
    { id: 'on-cancel' },
    h('option', { value: 'keep' }, 'keep what finished'),
    h('option', { value: 'rollback' }, 'roll back'),
  );
  const ratio = h('input', { id: 'max-failure-ratio', type: 'number', min: 0, max: 1, step: 0.01, value: 1 });
  const callback = h('input', { id: 'callback-url', type: 'url', placeholder: 'https://client.example.com/hooks/batchflow (optional)' });
  const validCount = h('b', { id: 'valid-count' }, '0');
  const invalidCount = h('b', { id: 'invalid-count' }, '0');
  const problemList = h('ul.problems', { id: 'invalid-list' });
  const optionProblems = h('ul.problems', { id: 'option-problems' });
  const button = h('button.primary', { id: 'submit-batch', type: 'submit', disabled: true }, 'Start batch');
  const result = h('div', { id: 'submit-result' });

  let checked = { items: [], problems: [] };
  let format = 'refs';
  let fileText = null;
  let fileKind = null;

  const options = () => {
    const problems = [];
    const picked = stages.filter((c) => c.checked).map((c) => c.value);
    if (picked.length === 0) problems.push('stages: pick at least one');
    const int = (input, name, lo, hi) => {
      const n = Number(input.value);
      if (!Number.isInteger(n) || n < lo || n > hi) problems.push(`${name}: a whole number ${lo}..${hi}`);
      return n;
    };
    const opts = {
      stages: picked,
      priority: priority.value,
      on_cancel: onCancel.value,
      max_failure_ratio: Number(ratio.value),
    };
    // Left empty, an option is left out, and the server chooses it.
    if (chunkSize.value.trim() !== '') opts.chunk_size = int(chunkSize, 'chunk_size', 1, 500);
    if (parallel.value.trim() !== '') opts.max_parallel_chunks = int(parallel, 'max_parallel_chunks', 1, 64);
    if (ratio.value === '' || !(opts.max_failure_ratio >= 0 && opts.max_failure_ratio <= 1))
      problems.push('max_failure_ratio: a number 0..1');
    const url = callback.value.trim();
    if (url) {
      if (!/^https?:\/\/[^\s]+$/i.test(url)) problems.push('callback_url: an http(s) URL');
      opts.callback_url = url;
    }
    return { opts, problems };
  };

  const render = () => {
    const { problems: optionIssues } = options();
    validCount.textContent = String(checked.items.length);
    invalidCount.textContent = String(checked.problems.length);
    fill(
      problemList,
      checked.problems
        .slice(0, SHOWN_PROBLEMS)
        .map((p) =>
          h(
            'li',
            `line ${p.line}: `,
            p.ref !== undefined ? h('code', p.ref.length > 40 ? `${p.ref.slice(0, 40)}…` : p.ref) : null,
            p.ref !== undefined ? ' — ' : '',
            p.issue,
          ),
        ),
      checked.problems.length > SHOWN_PROBLEMS ? h('li.muted', `… and ${checked.problems.length - SHOWN_PROBLEMS} more`) : null,
    );
    fill(
      optionProblems,
      optionIssues.map((p) => h('li.bad', p)),
    );
    const n = checked.items.length;
    const pasted = format === 'refs' || format === 'text';
    const fileBlocked = !pasted && checked.problems.length > 0;
    button.disabled = n === 0 || optionIssues.length > 0 || fileBlocked;
    if (fileBlocked) button.textContent = 'Fix the file to start';
    else if (n === 0) button.textContent = 'Start batch';
    else
      button.textContent = `Start batch (${n} item${n === 1 ? '' : 's'}${checked.problems.length && pasted ? `, ${checked.problems.length} invalid left out` : ''})`;
  };

  let timer = null;
  const revalidate = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (mode.value === 'file') {
        format = fileText === null ? 'file' : fileKind;
        checked = fileText === null ? { items: [], problems: [] } : fileKind === 'csv' ? checkCsv(fileText) : checkNdjson(fileText);
      } else {
        format = mode.value;
        checked = format === 'refs' ? checkRefs(textarea.value) : checkTextLines(textarea.value);
      }
      render();
    }, 120);
  };

  mode.addEventListener('change', () => {
    const isFile = mode.value === 'file';
    textarea.hidden = isFile;
    fileRow.hidden = !isFile;
    revalidate();
  });
  textarea.addEventListener('input', revalidate);
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    fileText = null;
    fill(result);
    if (f) {
      const kind = fileFormat(f);
      if (!kind) {
        checked = { items: [], problems: [{ line: 1, issue: 'pick a .csv or .ndjson file' }] };
        format = 'file';
        return void render();
      }
      fileKind = kind;
      fileText = await f.text();
    }
    revalidate();
  });
  for (const input of [...stages, chunkSize, parallel, priority, onCancel, ratio, callback]) input.addEventListener('input', render);

  const send = async () => {
    const { opts } = options();
    if (format === 'csv' || format === 'ndjson') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts)) q.set(k, Array.isArray(v) ? v.join(',') : String(v));
      return request(`/v1/batches?${q}`, {
        method: 'POST',
        headers: { 'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
        body: file.files[0],
      });
    }
    // Refs go as items_text (the server's own splitting); free text lines as items.
    const body =
      format === 'refs' ? { items_text: checked.items.map((i) => i.ref).join('\n'), ...opts } : { items: checked.items, ...opts };
    return request('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
  };

  const form = h(
    'form',
    { id: 'submit-form' },
    h('h1', 'New batch'),
    h(
      'div.card',
      h('label', h('span', 'Input'), mode),
      textarea,
      fileRow,
      h(
        'div.summary',
        { id: 'validation' },
        h('span', validCount, ' valid'),
        h('span', invalidCount, ' invalid'),
        h('span.muted', `at most ${MAX_ITEMS.toLocaleString()} items; refs 1..200 characters, unique`),
      ),
      problemList,
    ),
    h(
      'div.card',
      h('h2', 'Options'),
      h(
        'div.row',
        h('span.muted', 'Stages'),
        stages.map((c) => h('label.inline', c, c.value)),
      ),
      h(
        'div.grid',
        h('label', h('span', 'chunk_size (1..500, empty: chosen for the batch)'), chunkSize),
        h('label', h('span', 'max_parallel_chunks (1..64, empty: chosen for the batch)'), parallel),
        h('label', h('span', 'priority'), priority),
        h('label', h('span', 'on_cancel'), onCancel),
        h('label', h('span', 'max_failure_ratio (0..1)'), ratio),
        h('label', h('span', 'callback_url'), callback),
      ),
      optionProblems,
    ),
    h('div.row', button),
    result,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    fill(result, h('div.notice', 'Sending…'));
    try {
      const res = await send();
      const body = await res.json();
      window.location.hash = `#/batch/${encodeURIComponent(body.batch_id)}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return onUnauthorized(err);
      fill(result, errorBox(err));
      render();
    }
  });
  render();
  return { el: form, cleanup: () => clearTimeout(timer) };
}
