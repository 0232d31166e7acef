import { Readable } from 'node:stream';
import { getProxyForUrl } from 'proxy-from-env';
import type { BodyPayload } from './body.js';
import type { BaseContext } from './context.js';
import type { Progress } from './request-options.js';
import { acceptEncoding, defaultUserAgent } from './transport.js';

/** The request headers as they go on the wire, and whether the transport asked for compression. */
export interface WireHeaders {
  /** undici's flat `[name, value, name, value...]` form. */
  readonly flat: string[];
  /** True when the transport added `accept-encoding` itself, so it decodes what comes back. */
  readonly compression: boolean;
}

/**
 * The headers one hop sends: the request's own, plus what fetch adds when the caller did not set
 * it: `user-agent: shallot/<version>`, `accept-encoding: gzip, deflate, br` (when decoding is on),
 * the body's content type and, for a streamed body of known size, its `content-length`. Built in
 * one pass over the request's headers; the request's `Headers` is never changed.
 */
export function wireHeaders(headers: Headers, payload: BodyPayload | undefined, decompress: boolean, streamedLength: number | undefined): WireHeaders {
  const flat: string[] = [];
  let userAgent = false;
  let encoding = false;
  let contentType = false;
  let contentLength = false;
  headers.forEach((value, name) => {
    flat.push(name, value);
    if (name === 'user-agent') userAgent = true;
    else if (name === 'accept-encoding') encoding = true;
    else if (name === 'content-type') contentType = true;
    else if (name === 'content-length') contentLength = true;
  });
  if (!userAgent) flat.push('user-agent', defaultUserAgent);
  const compression = decompress && !encoding;
  if (compression) flat.push('accept-encoding', acceptEncoding);
  if (payload?.contentType !== undefined && !contentType) flat.push('content-type', payload.contentType);
  if (streamedLength !== undefined && !contentLength) flat.push('content-length', String(streamedLength));
  return { flat, compression };
}

/** The size of a payload when it is known without reading a stream. */
export function payloadLength(payload: BodyPayload): number | undefined {
  const data = payload.data;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Uint8Array) return data.byteLength;
  return payload.length;
}

const uploadChunk = 64 * 1024;

/**
 * The payload as a stream that reports upload progress as the transport pulls it: strings and
 * bytes go in 64 KiB chunks, streams pass through counted. `percent` reaches 100 at the end.
 */
export function withUploadProgress(payload: BodyPayload, onProgress: (progress: Progress) => void, ctx: BaseContext): Readable {
  const total = payloadLength(payload);
  let sent = 0;
  const report = (ended: boolean): void => {
    const totalBytes = total ?? (ended ? sent : undefined);
    const percent = ended ? 100 : totalBytes === undefined || totalBytes === 0 ? 0 : Math.min(100, (sent / totalBytes) * 100);
    try {
      onProgress({ transferredBytes: sent, totalBytes, percent });
    } catch (error) {
      ctx.log.warn({ err: error }, 'onUploadProgress threw; the body is sent on');
    }
  };
  const data = payload.data;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    report(false);
    return new Readable({
      read() {
        if (offset >= bytes.length) {
          report(true);
          this.push(null);
          return;
        }
        const chunk = bytes.subarray(offset, offset + uploadChunk);
        offset += chunk.length;
        sent = offset;
        this.push(chunk);
        if (offset < bytes.length) report(false);
      },
    });
  }
  const source = data;
  report(false);
  const counted = new Readable({
    read() {
      source.resume();
    },
  });
  source.on('data', (chunk: Buffer | string) => {
    sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (!counted.push(chunk)) source.pause();
    report(false);
  });
  source.once('end', () => {
    report(true);
    counted.push(null);
  });
  source.once('error', (error) => counted.destroy(error));
  return counted;
}

/**
 * The proxy a request goes through, or undefined: `proxy: 'env'` reads `HTTP_PROXY`,
 * `HTTPS_PROXY` and `NO_PROXY` (either case) as curl does; a URL applies to every request.
 */
export function proxyFor(url: URL, proxy: string | undefined): string | undefined {
  if (proxy === undefined) return undefined;
  if (proxy !== 'env') return proxy;
  const found = getProxyForUrl(url.href);
  return found === '' ? undefined : found;
}

/** True when the environment names a proxy for http or https at all (so `proxy: 'env'` can matter). */
export function environmentHasProxy(): boolean {
  const env = process.env;
  return [env.HTTP_PROXY, env.http_proxy, env.HTTPS_PROXY, env.https_proxy, env.ALL_PROXY, env.all_proxy].some((v) => v !== undefined && v !== '');
}
