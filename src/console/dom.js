/* global document, Node */
/** A tiny element builder: h('div.row', {onclick}, 'text', child). Text is always text, never HTML. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Shows an ApiError (or any error) in the contract's terms: message, then each detail. */
export function errorBox(err) {
  const details = err.details ?? [];
  return h(
    'div.error',
    { role: 'alert', 'data-code': err.code ?? '' },
    h('strong', err.code ? `${err.code}: ` : 'error: '),
    err.message,
    details.length
      ? h(
          'ul',
          details.map((d) => h('li', h('code', d.path || '(body)'), ' ', d.issue)),
        )
      : null,
    err.requestId ? h('div.muted', `request ${err.requestId}`) : null,
  );
}

export const fmtSeconds = (s) => {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};

export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
