/**
 * The `fallback` tier: an OpenAI-compatible chat-completions endpoint, asked to pick one of the
 * core tier's candidate headings. Timeouts, connection errors, 429 and 5xx are transient; a reply
 * that cannot be read is treated as "no opinion" (confidence 0), which sends the item to review.
 */
import { headerValue, httpCall, type HttpAnswer } from '../../../src/net/http-client';

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
    let res: HttpAnswer;
    try {
      res = await httpCall(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
        body: JSON.stringify(body),
        timeoutMs: opts.timeoutMs,
      });
    } catch (err) {
      return { ok: false, retryable: true, message: `fallback request failed: ${(err as Error).message}` };
    }
    const raw = res.text;
    if (res.status === 429 || res.status >= 500) {
      const after = Number(headerValue(res.headers, 'retry-after'));
      return {
        ok: false,
        retryable: true,
        message: `fallback answered ${res.status}`,
        ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
      };
    }
    if (res.status < 200 || res.status > 299)
      return { ok: false, retryable: false, message: `fallback answered ${res.status}: ${raw.slice(0, 200)}` };
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
