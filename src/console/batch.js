/**
 * One batch, live: fed by its event stream (progress, item_failed, the terminal event), with the
 * controls (cancel with or without rollback, pause, resume, retry failed), the failed items and
 * their reasons, the review queue, exports, and a link to the workflow in the Temporal UI.
 */
import { ApiError, download, getKey, json, post } from './api.js';
import { errorBox, fill, fmtSeconds, fmtTime, h } from './dom.js';
import { watchEvents } from './sse.js';

const COUNTS = ['pending', 'classified', 'ingested', 'published', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned'];
const FINISHED = new Set(['completed', 'partial', 'failed', 'cancelled']);
const ITEMS_PAGE = 100;
const MAX_LOG = 300;
const SETTLE_READS = 10;
const SETTLE_PAUSE_MS = 500;

export function batchView(batchId, { onUnauthorized }) {
  const path = `/v1/batches/${encodeURIComponent(batchId)}`;
  const status = h('span.badge', { id: 'batch-status' }, '…');
  const rolledBack = h('span.badge', { id: 'rolled-back', hidden: true }, 'rolled back');
  const temporal = h('a', { id: 'temporal-link', target: '_blank', rel: 'noopener noreferrer', hidden: true }, 'Open in Temporal UI ↗');
  const streamState = h('span.muted', { id: 'stream-state' });
  const bar = h('div.bar');
  const barLabel = h('span.label', { id: 'progress-text' }, '0 %');
  const progress = h(
    'div.progress',
    { id: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': 'batch progress' },
    bar,
    barLabel,
  );
  const countEls = Object.fromEntries(COUNTS.map((c) => [c, h('dd', { id: `count-${c}` }, '0')]));
  const stats = h('div.grid', { id: 'batch-stats' });
  const errorLine = h('div');
  const message = h('div', { id: 'action-result' });
  const activity = h('ol.activity', { id: 'activity' });

  const rollback = h(
    'select',
    { id: 'cancel-rollback' },
    h('option', { value: '' }, "the batch's on_cancel"),
    h('option', { value: 'false' }, 'keep what finished'),
    h('option', { value: 'true' }, 'roll back everything'),
  );
  const cancelBtn = h('button.danger', { id: 'cancel-btn', type: 'button', disabled: true }, 'Cancel');
  const pauseBtn = h('button', { id: 'pause-btn', type: 'button', disabled: true }, 'Pause');
  const resumeBtn = h('button', { id: 'resume-btn', type: 'button', disabled: true }, 'Resume');
  const retryBtn = h('button', { id: 'retry-btn', type: 'button', disabled: true }, 'Retry failed');

  const failedBody = h('tbody', { id: 'failed-items' });
  const failedMore = h('button', { id: 'failed-more', type: 'button', hidden: true }, 'More');
  const failedNote = h('p.muted', { id: 'failed-note' }, 'No failed items.');
  const reviewBody = h('tbody', { id: 'review-items' });
  const reviewNote = h('p.muted', { id: 'review-note' }, 'Nothing waits for review.');
  const exportState = h('span.muted', { id: 'export-state' });

  let stream = null;
  let failedCursor = null;
  let reloadTimer = null;
  let gone = false;

  const log = (text, kind = '') => {
    const time = new Date().toLocaleTimeString();
    activity.prepend(h(`li${kind ? `.${kind}` : ''}`, h('time', time), text));
    while (activity.children.length > MAX_LOG) activity.lastElementChild.remove();
  };

  const failure = (err) => {
    if (err instanceof ApiError && err.status === 401) return void onUnauthorized(err);
    fill(message, errorBox(err));
  };

  const show = (b) => {
    const pct = Math.max(0, Math.min(100, b.progress_percent ?? 0));
    bar.style.width = `${pct}%`;
    progress.setAttribute('aria-valuenow', String(pct));
    progress.classList.toggle('done', b.status === 'completed');
    progress.classList.toggle('stopped', b.status === 'failed' || b.status === 'cancelled');
    barLabel.textContent = `${pct.toFixed(1)} %`;
    status.textContent = b.status;
    status.className = `badge ${b.status}`;
    rolledBack.hidden = !b.rolled_back;
    if (b.temporal_ui_url) {
      temporal.href = b.temporal_ui_url;
      temporal.hidden = false;
    }
    for (const c of COUNTS) countEls[c].textContent = String(b.counts?.[c] ?? 0);
    const running = !FINISHED.has(b.status);
    const speed = b.items_per_second ?? 0;
    fill(
      stats,
      stat('items', String(b.total_items)),
      stat('stage', b.stage ?? '–'),
      stat('items per second', speed ? speed.toFixed(1) : '–', 'items-per-second'),
      stat('ETA', running ? fmtSeconds(b.eta_seconds) : 'done', 'eta'),
      stat('priority', b.priority ?? '–'),
      stat('cost', b.cost ? b.cost.total.toFixed(2) : '–'),
      stat('created', fmtTime(b.created_at)),
      stat('started', fmtTime(b.started_at)),
      stat('finished', fmtTime(b.completed_at)),
      b.webhook ? stat('webhook', `${b.webhook.status} (${b.webhook.attempts} attempts)`) : null,
    );
    fill(errorLine, b.error ? h('div.error', h('strong', `${b.error.code}: `), b.error.message) : null);
    cancelBtn.disabled = !running || b.status === 'cancelling';
    pauseBtn.disabled = !(b.status === 'running' || b.status === 'queued');
    resumeBtn.disabled = b.status !== 'paused';
    retryBtn.disabled = !(b.counts?.failed > 0) || b.status === 'cancelling';
  };

  let lastLogged = null;
  const onEvent = ({ event, data }) => {
    if (event === 'item_failed') {
      log(
        `${data.ref} failed at ${data.stage ?? '?'}: ${data.error ? `${data.error.code} — ${data.error.message}` : 'no reason given'}`,
        'bad',
      );
      scheduleLists();
      return;
    }
    if (typeof data !== 'object' || !data || !data.counts) return;
    show(data);
    const summary = `${data.status} ${data.progress_percent.toFixed(1)} %`;
    if (FINISHED.has(event)) {
      void settle(event, data);
      scheduleLists(0);
    } else if (summary !== lastLogged) {
      log(
        `${summary} — ${data.total_items - data.counts.pending} of ${data.total_items} finished${data.stage ? `, stage ${data.stage}` : ''}`,
      );
      if (data.counts.needs_review) scheduleLists();
    }
    lastLogged = summary;
  };

  /**
   * The terminal event can come from the workflow's own answer a moment before the batch's row is
   * final (completed_at, rolled_back): read the row until it is, then log the end from it.
   */
  const settle = async (event, data) => {
    let final = data;
    for (let i = 0; i < SETTLE_READS && !gone; i++) {
      try {
        const b = await json(path);
        if (!FINISHED.has(b.status)) break; // running again (retry failed)
        final = b;
        if (b.completed_at) break;
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, SETTLE_PAUSE_MS));
    }
    if (gone) return;
    if (final !== data) show(final);
    log(
      `batch ${final.status}${final.rolled_back ? ', rolled back' : ''}: ${COUNTS.filter((c) => final.counts[c])
        .map((c) => `${c} ${final.counts[c]}`)
        .join(', ')}`,
      final.status === 'completed' ? 'ok' : 'warn',
    );
  };

  const watch = () => {
    stream?.close();
    stream = watchEvents(`${path}/events`, {
      key: getKey(),
      onEvent,
      onState: (s) =>
        (streamState.textContent =
          { connecting: 'connecting…', live: '● live', reconnecting: 'reconnecting…', ended: 'stream ended', error: 'stream refused' }[s] ??
          s),
      onError: (e) => {
        if (e.status === 401) return onUnauthorized(new ApiError(401, { error: e }));
        fill(message, errorBox(e));
      },
    });
  };

  /** Re-reads the failed items and the review queue, a moment later so a burst of events reads once. */
  const scheduleLists = (delay = 500) => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => void Promise.all([loadFailed(true), loadReview()]), delay);
  };

  const loadFailed = async (reset) => {
    if (reset) failedCursor = null;
    try {
      const q = `status=failed&limit=${ITEMS_PAGE}${failedCursor ? `&cursor=${encodeURIComponent(failedCursor)}` : ''}`;
      const page = await json(`${path}/items?${q}`);
      if (gone) return;
      const rows = page.items.map((i) =>
        h(
          'tr',
          { dataset: { ref: i.ref } },
          h('td.mono', i.ref),
          h('td', i.stage ?? '–'),
          h('td', i.error ? h('code', i.error.code) : '–'),
          h('td', i.error?.message ?? ''),
          h('td', String(i.error?.attempts ?? '')),
        ),
      );
      if (reset) fill(failedBody, rows);
      else failedBody.append(...rows);
      failedCursor = page.next_cursor;
      failedMore.hidden = !failedCursor;
      failedNote.hidden = failedBody.children.length > 0;
    } catch (err) {
      failure(err);
    }
  };

  const loadReview = async () => {
    try {
      const page = await json(`/v1/review?batch_id=${encodeURIComponent(batchId)}&limit=100`);
      if (gone) return;
      // Rows already shown are kept as they are, so a label being typed survives a refresh.
      const shown = new Map([...reviewBody.children].map((tr) => [tr.dataset.ref, tr]));
      fill(
        reviewBody,
        page.items.map((item) => shown.get(item.ref) ?? reviewRow(item)),
      );
      reviewNote.hidden = page.items.length > 0;
    } catch (err) {
      failure(err);
    }
  };

  const reviewRow = (item) => {
    // The best guess first, then the core classifier's next headings (none for a text with no word
    // it knows, whose guess is 'unclassified'): each one click from being the label.
    const suggestions = item.suggestions ?? [];
    const label = h('input', {
      type: 'text',
      value: suggestions[0]?.label ?? '',
      placeholder: 'label',
      'aria-label': `label for ${item.ref}`,
    });
    const button = h('button.resolve', { type: 'button' }, 'Resolve');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await post(`/v1/review/${encodeURIComponent(batchId)}/${encodeURIComponent(item.ref)}`, { label: label.value.trim() });
        log(`resolved ${item.ref} as ${label.value.trim()}`, 'ok');
        void loadReview();
      } catch (err) {
        button.disabled = false;
        failure(err);
      }
    });
    const choices = suggestions.map((s) =>
      h(
        'button.suggestion',
        { type: 'button', title: `use ${s.label} as the label`, onclick: () => (label.value = s.label) },
        `${s.label} (${(s.confidence * 100).toFixed(0)} %)`,
      ),
    );
    return h(
      'tr',
      { dataset: { ref: item.ref } },
      h('td.mono', item.ref),
      h('td', item.text ?? ''),
      h('td', choices.length ? h('div.suggestions', choices) : '–'),
      h('td', h('div.row', label, button)),
    );
  };

  /** Runs a control; the answer is the batch's body (or the retry's counts), shown at once. */
  const act = async (what, run) => {
    fill(message);
    try {
      const answer = await run();
      if (answer && answer.counts) show(answer);
      return answer;
    } catch (err) {
      failure(err);
      log(`${what} refused${err.code ? `: ${err.code}` : ''}`, 'bad');
      return undefined;
    }
  };

  cancelBtn.addEventListener('click', async () => {
    const choice = rollback.value;
    const body = choice === '' ? {} : { rollback: choice === 'true' };
    log(`cancel requested (${choice === '' ? "the batch's on_cancel" : choice === 'true' ? 'roll back' : 'keep'})`);
    await act('cancel', () => post(`${path}/cancel`, body));
  });
  pauseBtn.addEventListener('click', async () => {
    if (await act('pause', () => post(`${path}/pause`))) log('paused: no new chunk starts; work in flight finishes');
  });
  resumeBtn.addEventListener('click', async () => {
    if (await act('resume', () => post(`${path}/resume`))) log('resumed');
  });
  retryBtn.addEventListener('click', async () => {
    retryBtn.disabled = true;
    const r = await act('retry failed', () => post(`${path}/retry-failed`));
    if (!r) return;
    log(`retrying ${r.retried} failed item${r.retried === 1 ? '' : 's'}`);
    // A finished batch runs again: its old stream ended, and the terminal id would only answer 204.
    lastLogged = null;
    watch();
    scheduleLists(0);
  });
  failedMore.addEventListener('click', () => void loadFailed(false));

  const exportButtons = ['csv', 'ndjson', 'json', 'parquet'].map((format) => {
    const b = h('button', { type: 'button', id: `export-${format}` }, format.toUpperCase());
    b.addEventListener('click', async () => {
      b.disabled = true;
      exportState.textContent = `preparing ${format}…`;
      try {
        const saved = await download(`${path}/export?format=${format}`, `${batchId}.${format}`);
        exportState.textContent = `saved ${saved.name} (${saved.size.toLocaleString()} bytes)`;
        log(`exported ${saved.name}`);
      } catch (err) {
        exportState.textContent = '';
        failure(err);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });

  const el = h(
    'section',
    { id: 'batch-page', dataset: { batchId } },
    h('div.row', h('h1.mono', batchId), status, rolledBack, h('span.spacer'), streamState, temporal),
    h(
      'div.card',
      progress,
      h(
        'dl.counts',
        COUNTS.map((c) => h('div', { dataset: { count: c } }, h('dt', c.replace('_', ' ')), countEls[c])),
      ),
      stats,
      errorLine,
    ),
    h(
      'div.card',
      h(
        'div.row',
        h('label.inline', 'On cancel', rollback),
        cancelBtn,
        pauseBtn,
        resumeBtn,
        retryBtn,
        h('a', { href: '#/batches' }, 'All batches'),
      ),
      message,
    ),
    h('div.two', h('div.card', h('h2', 'Activity'), activity), h('div.card', h('h2', 'Export'), h('div.row', exportButtons), exportState)),
    h(
      'div.card',
      { id: 'failed-section' },
      h('h2', 'Failed items'),
      failedNote,
      h(
        'table',
        h(
          'thead',
          h(
            'tr',
            ['ref', 'stage', 'code', 'reason', 'attempts'].map((t) => h('th', t)),
          ),
        ),
        failedBody,
      ),
      failedMore,
    ),
    h(
      'div.card',
      { id: 'review-section' },
      h('h2', 'Review queue'),
      reviewNote,
      h(
        'table',
        h(
          'thead',
          h(
            'tr',
            ['ref', 'text', 'suggestions', 'label'].map((t) => h('th', t)),
          ),
        ),
        reviewBody,
      ),
    ),
  );

  // First paint from a plain read (also the 404 for an unknown batch), then the stream.
  void (async () => {
    try {
      show(await json(path));
      log(`watching ${batchId}`);
    } catch (err) {
      failure(err);
      return;
    }
    watch();
    void loadFailed(true);
    void loadReview();
  })();

  return {
    el,
    cleanup: () => {
      gone = true;
      stream?.close();
      clearTimeout(reloadTimer);
    },
  };
}

function stat(name, value, id) {
  return h('div', h('div.muted', name), h('div', id ? { id } : {}, value));
}
