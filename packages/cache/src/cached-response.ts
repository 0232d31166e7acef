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

type StoredHeaders = Record<string, string | string[] | undefined>;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Makes stored headers describe the stored bytes (issue 14): a transport that decodes a
 * compressed body should drop `Content-Encoding` and `Content-Length`, and the cache never adds
 * them back; for safety, a `Content-Length` that does not match the bytes is dropped, and with
 * it a `Content-Encoding` the bytes evidently no longer have (their length changed, or a gzip
 * body lacks gzip's magic number).
 */
export function describeStoredBody(headers: StoredHeaders, bytes: Uint8Array): void {
  const length = headers['content-length'];
  const lengthDiffers = length !== undefined && Number(length) !== bytes.byteLength;
  if (lengthDiffers) delete headers['content-length'];
  const encoding = headers['content-encoding'];
  if (typeof encoding !== 'string') return;
  const coding = encoding.trim().toLowerCase();
  if (lengthDiffers || ((coding === 'gzip' || coding === 'x-gzip') && !isGzip(bytes))) {
    delete headers['content-encoding'];
    delete headers['content-length'];
  }
}
