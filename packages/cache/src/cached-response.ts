import { isNullBodyStatus, LazyResponse, type ResponseSource, streamSource } from '@shallot/core';

const decoder = new TextDecoder();

/**
 * A response body served from memory: `text()`, `json()` and `arrayBuffer()` read the bytes
 * directly, `body` makes a one-chunk stream only when asked for. Every read gets its own copy, so
 * no caller can change what is stored.
 */
function bytesSource(bytes: Uint8Array, headers: Headers): ResponseSource {
  return {
    headers: () => headers,
    text: async () => decoder.decode(bytes),
    json: async () => JSON.parse(decoder.decode(bytes)) as unknown,
    arrayBuffer: async () => bytes.slice().buffer,
    stream: () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes.slice());
          controller.close();
        },
      }),
    dump: async () => {},
  };
}

/** What a served response is made of. */
export interface ServedInit {
  status: number;
  statusText: string;
  url: string;
  /** HEAD: the response has no body whatever the status. */
  method: string;
}

/**
 * A fresh global `Response` over stored bytes: each caller gets its own, readable once like any
 * response, with its own `Headers`.
 */
export function servedResponse(bytes: Uint8Array, headers: Headers, init: ServedInit): Response {
  const nullBody = init.method === 'HEAD' || isNullBodyStatus(init.status);
  return new LazyResponse(nullBody ? undefined : bytesSource(bytes, headers), { status: init.status, statusText: init.statusText, url: init.url, nullBody }, headers);
}

/**
 * Sets `x-cache` on a response that passes through. Responses a transport or a layer made have
 * mutable headers; one with immutable headers (a `fetch()` response) is re-wrapped around the
 * same body stream.
 */
export function markResponse(response: Response, status: string): Response {
  try {
    response.headers.set('x-cache', status);
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set('x-cache', status);
    const init = { status: response.status, statusText: response.statusText, url: response.url, redirected: response.redirected };
    const body = response.body;
    return body === null ? new LazyResponse(undefined, { ...init, nullBody: true }, headers) : new LazyResponse(streamSource(body, headers), init, headers);
  }
}

// A body nobody will read is drained up to this many bytes, so its connection can be reused;
// past it, the response is cancelled (and its connection closed).
const drainLimit = 64 * 1024;

/**
 * Frees the connection under a response whose body nobody will read. A small body is read (and
 * dropped) to its end, so the connection returns to the pool; a larger one is cancelled, which
 * closes it.
 */
export function discard(response: Response): void {
  if (response.bodyUsed) return;
  const body = response.body;
  if (body === null) return;
  const reader = body.getReader();
  const drain = async (): Promise<void> => {
    let read = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > drainLimit) {
        await reader.cancel();
        return;
      }
    }
  };
  drain().catch(() => {});
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Reads a body to store it, up to `limit` bytes. A body announced larger (by `Content-Length`,
 * when not content-coded) is not touched; one found larger while reading is handed back as a
 * response that streams what was read and then the rest, so nothing past `limit` is buffered.
 * Returns the bytes, or the response to pass through.
 */
export async function readBounded(response: Response, limit: number): Promise<Uint8Array | Response> {
  const declared = response.headers.get('content-length');
  if (declared !== null && !response.headers.has('content-encoding')) {
    const length = Number(declared);
    if (Number.isSafeInteger(length) && length > limit) return response;
    if (Number.isSafeInteger(length)) return new Uint8Array(await response.arrayBuffer());
  }
  const body = response.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks, total);
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) break;
  }
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      chunks.length = 0;
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const headers = new Headers(response.headers);
  return new LazyResponse(streamSource(stream, headers), {
    status: response.status,
    statusText: response.statusText,
    url: response.url,
    redirected: response.redirected,
  }, headers);
}
