/**
 * The `fallback` tier: an OpenAI-compatible chat-completions endpoint, asked to pick one of the
 * core tier's candidate headings. Timeouts, connection errors, 429 and 5xx are transient; a reply
 * that cannot be read is treated as "no opinion" (confidence 0), which sends the item to review.
 */
export interface Candidate {
  label: string;
  description: string;
  confidence: number;
}

export interface FallbackOptions {
  url: string;
  model: string;
  apiKey?: string;
  timeoutMs: number;
}

export type FallbackAnswer =
  { ok: true; label: string; confidence: number } | { ok: false; retryable: boolean; message: string; retryAfterMs?: number };

const SYSTEM_PROMPT =
  'You classify products for customs into HS headings. Answer only with JSON: {"label": "<one of the candidate codes>", "confidence": <0..1>}.';

export function createFallback(opts: FallbackOptions): (text: string, candidates: Candidate[]) => Promise<FallbackAnswer> {
  const endpoint = new URL('chat/completions', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
  return async (text, candidates) => {
    const body = {
      model: opts.model,
      temperature: 0,
      messages: [
        { role: 'system', content: SYSTEM_PROMPT },
        {
          role: 'user',
          content: JSON.stringify({ product: text, candidates: candidates.map((c) => ({ code: c.label, description: c.description })) }),
        },
      ],
    };
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      return { ok: false, retryable: true, message: `fallback request failed: ${(err as Error).message}` };
    }
    const raw = await res.text().catch(() => '');
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      return {
        ok: false,
        retryable: true,
        message: `fallback answered ${res.status}`,
        ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
      };
    }
    if (!res.ok) return { ok: false, retryable: false, message: `fallback answered ${res.status}: ${raw.slice(0, 200)}` };
    return parseAnswer(raw, new Set(candidates.map((c) => c.label)));
  };
}

/** Reads `choices[0].message.content` as JSON; a label outside the candidates counts for nothing. */
export function parseAnswer(raw: string, allowed: Set<string>): FallbackAnswer {
  try {
    const content = (JSON.parse(raw) as { choices?: Array<{ message?: { content?: string } }> }).choices?.[0]?.message?.content ?? '';
    const json = content.slice(content.indexOf('{'), content.lastIndexOf('}') + 1);
    const answer = JSON.parse(json) as { label?: unknown; confidence?: unknown };
    const label = String(answer.label ?? '');
    const confidence = Number(answer.confidence);
    if (!allowed.has(label) || !Number.isFinite(confidence)) return { ok: true, label: label || 'unclassified', confidence: 0 };
    return { ok: true, label, confidence: Math.min(1, Math.max(0, confidence)) };
  } catch {
    return { ok: true, label: 'unclassified', confidence: 0 };
  }
}
