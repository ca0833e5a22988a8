import type { HttpErrorBody } from '../../src/api/errors.js';

/** The answer of a call: the body, or the API's error (status, code, reason) — the page shows either. */
export type Answer<T> = { ok: true; body: T } | { ok: false; status: number; code: string; reason: string };

/**
 * Calls the peer's HTTP API (same origin: the HTTP-only cookie carries the
 * token of control actions; the page never sees the token itself).
 */
export async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    return { ok: false, status: 0, code: 'unreachable', reason: `the peer does not answer (${(err as Error).message})` };
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.ok) return { ok: true, body: json as T };
  const e = (json as HttpErrorBody | undefined)?.error;
  return { ok: false, status: res.status, code: e?.code ?? `http-${res.status}`, reason: e?.reason ?? (text.slice(0, 200) || res.statusText) };
}

export const get = <T>(path: string): Promise<Answer<T>> => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown): Promise<Answer<T>> => call<T>('POST', path, body ?? {});
