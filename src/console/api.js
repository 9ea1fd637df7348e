/* global document */
/**
 * The console's only way to the server: same-origin /v1 calls with the key in X-Api-Key
 * (never in a URL, so it does not end up in logs or history). Errors come back as ApiError
 * carrying the contract's error shape (code, message, details).
 */
const KEY_STORAGE = 'batchflow.apiKey';

export const getKey = () => localStorage.getItem(KEY_STORAGE);
export const setKey = (key) => localStorage.setItem(KEY_STORAGE, key);
export const forgetKey = () => localStorage.removeItem(KEY_STORAGE);

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : { code: `http_${status}`, message: `the server answered ${status}` };
    super(e.message);
    this.status = status;
    this.code = e.code;
    this.details = e.details ?? [];
    this.requestId = e.request_id;
    this.retryAfter = e.retry_after;
  }
}

/** fetch() with the key; answers the Response when it is 2xx, else throws ApiError. */
export async function request(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = getKey();
  if (key) headers.set('x-api-key', key);
  if (init.body !== undefined && typeof init.body === 'string' && !headers.has('content-type'))
    headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      // not JSON (a proxy's page): ApiError says the status
    }
    throw new ApiError(res.status, body);
  }
  return res;
}

export async function json(path, init) {
  const res = await request(path, init);
  return res.status === 204 ? null : res.json();
}

export const post = (path, body) => json(path, { method: 'POST', body: JSON.stringify(body ?? {}) });

/** Downloads with the key (an <a href> cannot send it) and saves through a Blob URL. */
export async function download(path, fallbackName) {
  const res = await request(path);
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { name, size: blob.size };
}
