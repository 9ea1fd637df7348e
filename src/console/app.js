/* global window, document */
/**
 * The console's entry: asks for the key, then routes on the URL hash
 * (#/submit, #/batches, #/batch/<id>) to one view at a time. Each view answers a cleanup
 * function (the batch page closes its event stream with it).
 */
import { ApiError, forgetKey, getKey, json, setKey } from './api.js';
import { $, errorBox, fill, h } from './dom.js';
import { batchView } from './batch.js';
import { listView } from './list.js';
import { submitView } from './submit.js';

const main = $('#main');
let cleanup = () => {};

function keyView(message) {
  const input = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', placeholder: 'bf_...', required: true });
  const status = h('div');
  const form = h(
    'form.card.key-box',
    { id: 'key-form' },
    h('h1', 'API key'),
    h(
      'p.muted',
      'The console calls the batchflow API with your key. It is kept in this browser (localStorage) until you press "Forget key". With npm start, the development key is printed at start-up and saved in .data/dev-api-key.',
    ),
    message ? errorBox(message) : null,
    h('label', h('span', 'Key'), input),
    h('div.row', h('button.primary', { id: 'use-key', type: 'submit' }, 'Use this key')),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setKey(input.value.trim());
    try {
      // Any authenticated read proves the key; a 401 means it is wrong.
      await json('/v1/batches?limit=1');
      route();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) forgetKey();
      fill(status, errorBox(err));
    }
  });
  return form;
}

function showKeyState() {
  const key = getKey();
  $('#key-state').textContent = key ? `key …${key.slice(-4)}` : '';
  $('#forget-key').hidden = !key;
}

/** Every view calls this on a 401: the key was revoked or mistyped. */
export function keyRejected(err) {
  forgetKey();
  route(err);
}

function route(message) {
  cleanup();
  cleanup = () => {};
  showKeyState();
  const hash = window.location.hash.replace(/^#/, '') || '/submit';
  const [path, query = ''] = hash.split('?');
  for (const a of document.querySelectorAll('#nav a[data-view]'))
    a.classList.toggle('active', path.startsWith(`/${a.dataset.view}`) || (a.dataset.view === 'batches' && path.startsWith('/batch/')));
  if (!getKey()) return void fill(main, keyView(message));
  const params = new URLSearchParams(query);
  const batch = /^\/batch\/([^/]+)$/.exec(path);
  let view;
  if (batch) view = batchView(decodeURIComponent(batch[1]), { onUnauthorized: keyRejected });
  else if (path === '/batches') view = listView(params, { onUnauthorized: keyRejected });
  else view = submitView({ onUnauthorized: keyRejected });
  fill(main, view.el);
  cleanup = view.cleanup ?? (() => {});
}

$('#forget-key').addEventListener('click', () => {
  forgetKey();
  route();
});
window.addEventListener('hashchange', () => route());
route();
