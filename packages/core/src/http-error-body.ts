import { HttpError, type RequestTarget } from './errors.js';
import { LazyResponse, streamSource } from './response.js';

/** How much of an error response's body an `HttpError` carries. */
export const httpErrorBodyBytes = 64 * 1024;

/**
 * An `HttpError` for `response` that carries the start of its body (`bodyText`, up to 64 KiB)
 * so its message can say what the server said (`422 Unprocessable Entity: {"error":"email taken"}`),
 * while `error.response` stays readable from the first byte: what was read is replayed ahead of
 * the rest.
 */
export async function httpErrorWithBody(response: Response, request: RequestTarget | undefined): Promise<HttpError> {
  const body = response.body;
  if (body === null) return new HttpError(response, { request, bodyText: '' });
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  try {
    while (size < httpErrorBodyBytes) {
      const read = await reader.read();
      if (read.done) {
        ended = true;
        break;
      }
      chunks.push(read.value);
      size += read.value.byteLength;
    }
  } catch {
    // A body that fails midway: the error keeps what arrived.
    ended = true;
  }
  const bytes = Buffer.concat(chunks);
  const bodyText = new TextDecoder().decode(bytes.subarray(0, httpErrorBodyBytes));
  const replay = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        if (ended) controller.close();
      },
      async pull(controller) {
        const read = await reader.read();
        if (read.done) controller.close();
        else controller.enqueue(read.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  const headers = response.headers;
  const copy = new LazyResponse(
    streamSource(replay, headers),
    { status: response.status, statusText: response.statusText, url: response.url, redirected: response.redirected },
    headers,
  );
  return new HttpError(copy, { request, bodyText });
}
