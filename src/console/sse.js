/**
 * Server-Sent Events over fetch(), because EventSource cannot send the X-Api-Key header. Parses
 * the stream as the WHATWG spec says (fields, comments, blank-line dispatch), and when the stream
 * drops before a terminal event it reconnects with Last-Event-ID, which the server continues from
 * without repeats. 204 (the server saying "you already saw the end") stops it too.
 */
const TERMINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);

/**
 * Watches `url`; calls onEvent({ id, event, data }) with data parsed from JSON, onState(text) as the
 * connection changes, onError(err) for an answer that is not a stream (401, 404: no retry).
 * Answers { close() }.
 */
export function watchEvents(url, { key, onEvent, onState = () => {}, onError = () => {} }) {
  let lastEventId = null;
  let retryMs = 2_000;
  let closed = false;
  let controller = null;
  let timer = null;

  const connect = async () => {
    if (closed) return;
    controller = new AbortController();
    const headers = { accept: 'text/event-stream' };
    if (key) headers['x-api-key'] = key;
    if (lastEventId) headers['last-event-id'] = lastEventId;
    let ended = false;
    try {
      onState(lastEventId ? 'reconnecting' : 'connecting');
      const res = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
      if (res.status === 204) return void finish('ended');
      if (!res.ok || !res.body) {
        let body = null;
        try {
          body = await res.json();
        } catch {
          // not the contract's shape
        }
        closed = true;
        onState('error');
        return void onError({ status: res.status, ...(body?.error ?? { message: `the stream answered ${res.status}` }) });
      }
      onState('live');
      ended = await read(res.body);
    } catch (err) {
      if (closed || err.name === 'AbortError') return;
    }
    if (ended) return void finish('ended');
    if (!closed) {
      onState('reconnecting');
      timer = setTimeout(connect, retryMs);
    }
  };

  const finish = (state) => {
    closed = true;
    onState(state);
  };

  /** Reads until the server closes; answers true when a terminal event was seen. */
  const read = async (body) => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let current = { data: [] };
    let terminal = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return terminal;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          if (current.id !== undefined) lastEventId = current.id;
          if (current.data.length > 0) {
            const event = current.event ?? 'message';
            let data = current.data.join('\n');
            try {
              data = JSON.parse(data);
            } catch {
              // keep the text
            }
            if (TERMINAL.has(event)) terminal = true;
            onEvent({ id: lastEventId, event, data });
          }
          current = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') current.data.push(value);
        else if (field === 'event') current.event = value;
        else if (field === 'id' && !value.includes('\0')) current.id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
      }
    }
  };

  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
