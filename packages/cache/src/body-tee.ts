import { LazyResponse, type ResponseSource } from '@shallot/core';

/** How a body copied for the store ended. */
export type TeeEnd =
  /** The whole body arrived: `bytes` is a copy of it, exactly sized. */
  | { readonly kind: 'complete'; readonly bytes: Uint8Array }
  /** It grew past the limit: nothing is kept, the caller's stream goes on. */
  | { readonly kind: 'overflow' }
  /** Upstream failed, or the caller cancelled before the end. */
  | { readonly kind: 'failed'; readonly error: unknown };

const decoder = new TextDecoder();

/** Copies `chunks` into one buffer of exactly `total` bytes (never a view on a larger one). */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The body of a response on its way to the caller and to the store at once. Upstream is read
 * as fast as it sends, up to `limit` bytes, whether or not the caller reads (so an entry is
 * stored even for a caller that never reads, and requests that joined the flight are never held
 * up by a slow caller); each chunk is handed to the caller as it arrives. Past `limit` the copy
 * is dropped and reading goes at the caller's pace. The caller's cancel reaches upstream.
 */
class BodyTee implements ResponseSource {
  readonly #upstream: Response;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #headers: Headers;
  readonly #limit: number;
  readonly #onEnd: (end: TeeEnd) => Promise<void> | void;
  // Chunks read and not yet handed to the caller's stream.
  readonly #queue: Uint8Array[] = [];
  // The copy for the store; undefined once complete or past the limit.
  #kept: Uint8Array[] | undefined = [];
  #keptBytes = 0;
  #bytes: Uint8Array | undefined;
  #state: 'reading' | 'complete' | 'overflow' | 'failed' = 'reading';
  #error: unknown;
  #cancelled = false;
  #wake: (() => void) | undefined;
  readonly #pumped: Promise<void>;

  constructor(upstream: Response, body: ReadableStream<Uint8Array>, headers: Headers, limit: number, onEnd: (end: TeeEnd) => Promise<void> | void, prefix: Uint8Array | undefined) {
    // Held so that the upstream response lives as long as its body is read from here.
    this.#upstream = upstream;
    this.#reader = body.getReader();
    this.#headers = headers;
    this.#limit = limit;
    this.#onEnd = onEnd;
    if (prefix !== undefined && prefix.byteLength > 0) {
      this.#queue.push(prefix);
      this.#kept?.push(prefix);
      this.#keptBytes = prefix.byteLength;
    }
    this.#pumped = this.#pump();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #end(end: TeeEnd): Promise<void> {
    try {
      await this.#onEnd(end);
    } catch {
      // The store's own failures are logged where they happen; the body goes on.
    }
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.#reader.read();
        // A cancelled reader reports done: that is no complete body.
        if (this.#cancelled) throw new DOMException('The response body was cancelled', 'AbortError');
        if (done) {
          const bytes = concatBytes(this.#kept ?? [], this.#keptBytes);
          this.#kept = undefined;
          this.#bytes = bytes;
          await this.#end({ kind: 'complete', bytes });
          this.#state = 'complete';
          return;
        }
        this.#queue.push(value);
        this.#kept?.push(value);
        this.#keptBytes += value.byteLength;
        this.#notify();
        if (this.#keptBytes > this.#limit) {
          this.#kept = undefined;
          this.#state = 'overflow';
          await this.#end({ kind: 'overflow' });
          return;
        }
      }
    } catch (error) {
      this.#kept = undefined;
      this.#error = error;
      this.#state = 'failed';
      await this.#end({ kind: 'failed', error });
    } finally {
      this.#notify();
    }
  }

  headers(): Headers {
    return this.#headers;
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        // While the store's copy still refers to the chunk, the caller gets its own.
        controller.enqueue(this.#kept === undefined ? chunk : chunk.slice());
        return;
      }
      if (this.#state === 'failed') throw this.#error;
      if (this.#state === 'complete') {
        controller.close();
        return;
      }
      if (this.#state === 'overflow') {
        const { done, value } = await this.#reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.#pull(controller),
        cancel: (reason) => this.#cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  async #cancel(reason: unknown): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#queue.length = 0;
    this.#notify();
    await this.#reader.cancel(reason).catch(() => {});
  }

  /** The whole body: the stored copy, or (past the limit) what was queued and the rest. */
  async #all(): Promise<{ bytes: Uint8Array; shared: boolean }> {
    await this.#pumped;
    if (this.#state === 'failed') throw this.#error;
    if (this.#state === 'complete') return { bytes: this.#bytes as Uint8Array, shared: true };
    const chunks = this.#queue.splice(0);
    let total = chunks.reduce((n, chunk) => n + chunk.byteLength, 0);
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
    return { bytes: concatBytes(chunks, total), shared: false };
  }

  async text(): Promise<string> {
    return decoder.decode((await this.#all()).bytes);
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const { bytes, shared } = await this.#all();
    return (shared ? bytes.slice() : bytes).buffer as ArrayBuffer;
  }

  dump(): Promise<void> {
    return this.#cancel(undefined);
  }

  /** The response upstream sent, kept alive with the tee. */
  get upstream(): Response {
    return this.#upstream;
  }
}

/** What the caller's response is made of besides its body. */
export interface TeeInit {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly redirected?: boolean;
  /** Bytes that come before upstream's (a stored first part of a combined response). */
  readonly prefix?: Uint8Array;
}

/**
 * A response for the caller whose body streams `upstream`'s as it arrives while a copy of at
 * most `limit` bytes is kept; `onEnd` is told how the body ended (and awaited before the caller
 * sees the end, so a stored entry is in place by then). `upstream` must have a body.
 */
export function teeBody(upstream: Response, headers: Headers, init: TeeInit, limit: number, onEnd: (end: TeeEnd) => Promise<void> | void): Response {
  const body = upstream.body as ReadableStream<Uint8Array>;
  const tee = new BodyTee(upstream, body, headers, limit, onEnd, init.prefix);
  return new LazyResponse(tee, { status: init.status, statusText: init.statusText, url: init.url, redirected: init.redirected }, headers);
}
