import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import type { BaseContext } from './context.js';
import { expireAfter } from './deadline-queue.js';
import { ResponseTooLargeError, TimeoutError } from './errors.js';
import type { Progress } from './request-options.js';

/**
 * Bound on a decoded (decompressed) body when no `maxResponseBytes` is set: a decompression bomb
 * read with `text()` or `json()` fails here instead of exhausting memory.
 */
export const defaultMaxDecodedBytes = 1024 * 1024 * 1024;

/** What a transport asks of a response body beyond passing it through. */
export interface BodyPlan {
  /** The content coding to undo (`gzip`, `deflate`, `br`), or undefined to pass bytes as sent. */
  readonly decode: string | undefined;
  /** Error past this many (decoded) bytes. */
  readonly maxBytes: number | undefined;
  /** Fail when no byte arrives for this long. */
  readonly readMs: number | undefined;
  /** Told as bytes are read. */
  readonly onProgress: ((progress: Progress) => void) | undefined;
  /** The body's announced size (Content-Length), when it is the size of what the caller reads. */
  readonly totalBytes: number | undefined;
}

const codings: Record<string, string> = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate', br: 'br' };

/**
 * How to read a body: decode it when the transport asked for compression itself (the caller set
 * no `Accept-Encoding`) and the server used a coding we know; bound it; watch it. Returns
 * undefined when the body passes through untouched (the fast path).
 */
export function planBody(
  ctx: BaseContext,
  headers: { get(name: string): string | undefined },
  options: { decompress: boolean; maxResponseBytes?: number | undefined; weAskedForCompression: boolean },
): BodyPlan | undefined {
  const request = ctx.request;
  const encoding = options.decompress && options.weAskedForCompression ? headers.get('content-encoding')?.trim().toLowerCase() : undefined;
  const decode = encoding === undefined || encoding === '' || encoding === 'identity' ? undefined : codings[encoding];
  const maxBytes = request.maxResponseBytes ?? options.maxResponseBytes ?? (decode === undefined ? undefined : defaultMaxDecodedBytes);
  const readMs = ctx.timeouts.readMs;
  const onProgress = request.onDownloadProgress;
  if (decode === undefined && maxBytes === undefined && readMs === undefined && onProgress === undefined) return undefined;
  const length = headers.get('content-length');
  const totalBytes = decode === undefined && length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  return { decode, maxBytes, readMs, onProgress, totalBytes };
}

/** Headers that describe the body the caller reads: a decoded one has no coding and no stale length. */
export function describeDecoded(headers: Headers, plan: BodyPlan): Headers {
  if (plan.decode !== undefined) {
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  return headers;
}

/** Raw deflate or zlib-wrapped deflate (servers send both as `deflate`), told by the first byte. */
class Inflate extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#inner === undefined) {
      const inner = ((chunk[0] ?? 0) & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw();
      inner.on('data', (data: Buffer) => this.push(data));
      inner.on('error', (error) => this.destroy(error));
      this.#inner = inner;
    }
    this.#inner.write(chunk, done);
  }

  override _flush(done: TransformCallback): void {
    if (this.#inner === undefined) return done();
    this.#inner.once('end', () => done());
    this.#inner.end();
  }
}

function decoder(coding: string): Transform {
  // Lenient like browsers: a body cut short after its last complete block still decodes.
  const flush = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  if (coding === 'gzip') return zlib.createGunzip(flush);
  if (coding === 'br') return zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
  return new Inflate();
}

/**
 * Applies a {@link BodyPlan} to a body: decoding, the byte bound, progress and the idle read
 * timeout, in one pass. Returns the stream the caller reads.
 */
export function shapeBody(body: Readable, plan: BodyPlan, ctx: BaseContext): Readable {
  let out: Readable = body;
  if (plan.decode !== undefined) {
    const decoded = decoder(plan.decode);
    body.on('error', (error) => decoded.destroy(error));
    decoded.on('error', () => body.destroy());
    out = body.pipe(decoded);
  }
  const { maxBytes, onProgress, readMs } = plan;
  if (maxBytes === undefined && onProgress === undefined && readMs === undefined) return out;
  const watched = new PassThrough();
  const source = out;
  let transferred = 0;
  const report = (ended: boolean): void => {
    if (onProgress === undefined) return;
    const total = plan.totalBytes ?? (ended ? transferred : undefined);
    const percent = ended ? 100 : total === undefined || total === 0 ? 0 : Math.min(100, (transferred / total) * 100);
    try {
      onProgress({ transferredBytes: transferred, totalBytes: total, percent });
    } catch (error) {
      ctx.log.warn({ err: error }, 'onDownloadProgress threw; the body is read on');
    }
  };
  const fail = (error: Error): void => {
    source.destroy(error);
    if (source !== body) body.destroy(error);
    watched.destroy(error);
  };
  const expire = readMs === undefined ? undefined : (): void => fail(new TimeoutError('read', readMs, { request: ctx.request }));
  let expiry = expire === undefined ? undefined : expireAfter(ctx.clock, readMs as number, expire);
  // The idle timer watches the wire, not the decoder.
  if (expire !== undefined) {
    body.on('data', () => {
      expiry?.cancel();
      expiry = expireAfter(ctx.clock, readMs as number, expire);
    });
  }
  const stop = (): void => expiry?.cancel();
  let ended = false;
  source.on('data', (chunk: Buffer) => {
    transferred += chunk.length;
    if (maxBytes !== undefined && transferred > maxBytes) {
      fail(new ResponseTooLargeError(maxBytes, { request: ctx.request }));
      return;
    }
    if (!watched.write(chunk)) source.pause();
    report(false);
  });
  watched.on('drain', () => source.resume());
  source.once('end', () => {
    ended = true;
    stop();
    report(true);
    watched.end();
  });
  source.once('error', (error) => {
    stop();
    watched.destroy(error);
  });
  watched.once('close', () => {
    stop();
    // The caller cancelled the body: let go of the socket.
    if (!ended) body.destroy();
  });
  return watched;
}
