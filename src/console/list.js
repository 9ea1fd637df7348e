/* global window */
/** The batch list: newest first, filtered by status, paged with the API's cursor. */
import { ApiError, json } from './api.js';
import { errorBox, fill, fmtTime, h } from './dom.js';

const STATUSES = ['queued', 'running', 'paused', 'cancelling', 'completed', 'partial', 'failed', 'cancelled'];
const PAGE_SIZE = 20;

export function listView(params, { onUnauthorized }) {
  const status = params.get('status') ?? '';
  const filter = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const body = h('tbody');
  const message = h('div');
  const prev = h('button', { id: 'prev-page', type: 'button', disabled: true }, '← Newer');
  const next = h('button', { id: 'next-page', type: 'button', disabled: true }, 'Older →');
  const refresh = h('button', { id: 'refresh-list', type: 'button' }, 'Refresh');
  // The cursors of the pages before this one, so "Newer" can go back.
  const cursors = [];
  let cursor = null;
  let nextCursor = null;

  const load = async () => {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    try {
      const page = await json(`/v1/batches?${q}`);
      nextCursor = page.next_cursor;
      fill(message, page.batches.length ? null : h('p.muted', status ? `No ${status} batches.` : 'No batches yet.'));
      fill(body, page.batches.map(row));
      prev.disabled = cursors.length === 0;
      next.disabled = !nextCursor;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return onUnauthorized(err);
      fill(message, errorBox(err));
    }
  };

  filter.addEventListener('change', () => {
    window.location.hash = filter.value ? `#/batches?status=${filter.value}` : '#/batches';
  });
  next.addEventListener('click', () => {
    cursors.push(cursor);
    cursor = nextCursor;
    void load();
  });
  prev.addEventListener('click', () => {
    cursor = cursors.pop() ?? null;
    void load();
  });
  refresh.addEventListener('click', () => void load());
  void load();

  const el = h(
    'section',
    { id: 'batch-list' },
    h('h1', 'Batches'),
    h(
      'div.card',
      h('div.row', h('label.inline', 'Status', filter), refresh, h('span.spacer'), prev, next),
      message,
      h(
        'table',
        h(
          'thead',
          h(
            'tr',
            ['batch', 'status', 'progress', 'items', 'failed', 'created'].map((t) => h('th', t)),
          ),
        ),
        body,
      ),
    ),
  );
  return { el };
}

function row(b) {
  const bar = h('div.bar');
  bar.style.width = `${Math.min(100, b.progress_percent)}%`;
  return h(
    'tr',
    { dataset: { batchId: b.batch_id } },
    h('td', h('a.mono', { href: `#/batch/${encodeURIComponent(b.batch_id)}` }, b.batch_id)),
    h('td', h(`span.badge.${b.status}`, b.status), b.rolled_back ? h('span.muted', ' rolled back') : null),
    h('td', h('div.progress.mini', bar), h('span.muted', `${b.progress_percent.toFixed(1)} %`)),
    h('td', String(b.total_items)),
    h('td', b.counts.failed ? h('span.bad', String(b.counts.failed)) : '0'),
    h('td', fmtTime(b.created_at)),
  );
}
