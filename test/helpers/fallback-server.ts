/**
 * A fallback tier's endpoint on loopback, speaking the chat-completions shape the classify stage
 * calls (activities/stages/classify/fallback.ts): it records each product and its candidates, and
 * answers what `answer` decides.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the stage sends as the user message: the product and the core tier's candidates. */
export interface FallbackRequest {
  product: string;
  candidates: Array<{ code: string }>;
}

export interface FallbackServer {
  /** The base URL, as CLASSIFY_FALLBACK_URL. */
  url: string;
  requests: FallbackRequest[];
  close(): Promise<void>;
}

export async function startFallbackServer(
  answer: (request: FallbackRequest) => { label: string; confidence: number },
): Promise<FallbackServer> {
  const requests: FallbackRequest[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: Array<{ role: string; content: string }> };
      const user = JSON.parse(body.messages.find((m) => m.role === 'user')!.content) as FallbackRequest;
      requests.push(user);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: JSON.stringify(answer(user)) } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
