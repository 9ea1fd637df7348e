/**
 * A small Server-Sent Events client over fetch() (Node 20 has no EventSource): parses the stream
 * as the WHATWG spec says (fields, comments, blank-line dispatch) and records every event.
 */
export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Resolves when the server has closed the stream (or we aborted it). */
  closed: Promise<void>;
  /** True once the server closed the stream by itself. */
  endedByServer(): boolean;
  abort(): void;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  let serverEnded = false;
  const closed = (async () => {
    if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let current: { id?: string; event?: string; data: string[] } = { data: [] };
    let lastId = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          serverEnded = true;
          return;
        }
        buffer += value;
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            if (current.id !== undefined) lastId = current.id;
            if (current.data.length > 0) events.push({ id: lastId, event: current.event ?? 'message', data: current.data.join('\n') });
            current = { data: [] };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') current.data.push(value);
          else if (field === 'event') current.event = value;
          else if (field === 'id') current.id = value;
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    events,
    closed,
    endedByServer: () => serverEnded,
    abort: () => controller.abort(),
  };
}
