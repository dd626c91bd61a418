// The page's only way to data: the daemon's API, with the token kept in this browser.
const TOKEN_KEY = 'vigil.token';

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) ?? '',
  set: (t) => (t ? localStorage.setItem(TOKEN_KEY, t) : localStorage.removeItem(TOKEN_KEY)),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (token.get()) headers.authorization = `Bearer ${token.get()}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? `HTTP ${res.status}`, json?.error?.message ?? res.statusText);
  return json;
}

/**
 * The alert stream. EventSource cannot send an Authorization header, so this reads the SSE stream
 * with fetch, resuming after the last event id when the connection drops.
 */
export function alertStream(onEvent, onState) {
  let lastId = null;
  let stopped = false;
  let ctrl = null;
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const headers = { accept: 'text/event-stream' };
        if (token.get()) headers.authorization = `Bearer ${token.get()}`;
        if (lastId !== null) headers['last-event-id'] = String(lastId);
        const res = await fetch('/api/v1/alerts/stream', { headers, signal: ctrl.signal });
        if (!res.ok) throw new ApiError(res.status, 'stream', `alert stream: HTTP ${res.status}`);
        onState(true);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const id = /^id: (\d+)$/m.exec(frame);
            const data = /^data: (.*)$/m.exec(frame);
            if (id) lastId = Number(id[1]);
            if (data) onEvent(JSON.parse(data[1]));
          }
        }
      } catch (err) {
        if (stopped) return;
        onState(false, err);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 3000));
    }
  };
  void run();
  return () => {
    stopped = true;
    ctrl?.abort();
  };
}
