import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { BodyNotReplayableError, type RequestTarget } from './errors.js';

/** What a request body may be given as. Everything but a stream can be sent more than once. */
export type BodySource =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | URLSearchParams
  | Blob
  | FormData
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Readable;

/** The bytes (or stream) a transport sends for one attempt. */
export interface BodyPayload {
  readonly data: string | Uint8Array | Readable;
  /** A content type the payload needs (a multipart boundary), set when the request has none. */
  readonly contentType?: string;
  /** The length in bytes, when known without reading a stream. */
  readonly length?: number;
}

type Kind = 'text' | 'bytes' | 'blob' | 'form-data' | 'stream';

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * A request body that knows whether it can be sent again. Strings, bytes, `URLSearchParams`,
 * `Blob`, `FormData` and json are replayable; a stream is sent once, and a second send throws
 * {@link BodyNotReplayableError} rather than sending an empty body.
 */
export class RequestBody {
  /** True when the body can be sent any number of times. */
  readonly replayable: boolean;
  /** The content type this body implies (`application/json`, the Blob's type...), if any. */
  readonly contentType: string | undefined;
  #kind: Kind;
  #source: string | Uint8Array | Blob | FormData | Readable;
  #materialized: BodyPayload | undefined;
  #sends = 0;

  private constructor(kind: Kind, source: string | Uint8Array | Blob | FormData | Readable, contentType: string | undefined) {
    this.#kind = kind;
    this.#source = source;
    this.contentType = contentType;
    this.replayable = kind !== 'stream';
  }

  /** How many times the body has been handed to a transport. */
  get sends(): number {
    return this.#sends;
  }

  /** A JSON body (`application/json`). */
  static json(value: unknown): RequestBody {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`json: ${typeof value} cannot be serialised as JSON`);
    return new RequestBody('text', text, 'application/json');
  }

  /** A body from any {@link BodySource}; `null` and `undefined` give `null`. */
  static from(source: BodySource | RequestBody | null | undefined): RequestBody | null {
    if (source === null || source === undefined) return null;
    if (source instanceof RequestBody) return source;
    if (typeof source === 'string') return new RequestBody('text', source, 'text/plain;charset=UTF-8');
    if (source instanceof URLSearchParams) {
      return new RequestBody('text', source.toString(), 'application/x-www-form-urlencoded;charset=UTF-8');
    }
    if (source instanceof Uint8Array) return new RequestBody('bytes', source, undefined);
    if (source instanceof ArrayBuffer) return new RequestBody('bytes', new Uint8Array(source), undefined);
    if (ArrayBuffer.isView(source)) {
      return new RequestBody('bytes', new Uint8Array(source.buffer, source.byteOffset, source.byteLength), undefined);
    }
    if (source instanceof Blob) return new RequestBody('blob', source, source.type === '' ? undefined : source.type);
    if (source instanceof FormData) return new RequestBody('form-data', source, undefined);
    if (source instanceof Readable) return new RequestBody('stream', source, undefined);
    if (source instanceof ReadableStream) {
      return new RequestBody('stream', Readable.fromWeb(source as NodeReadableStream), undefined);
    }
    if (isAsyncIterable(source)) return new RequestBody('stream', Readable.from(source), undefined);
    throw new TypeError(`body: unsupported body type ${Object.prototype.toString.call(source)}`);
  }

  /**
   * Hands the body to a transport for one send. A stream can be taken once; the second take
   * throws {@link BodyNotReplayableError}.
   */
  async take(request?: RequestTarget): Promise<BodyPayload> {
    if (this.#kind === 'stream' && this.#sends > 0) throw new BodyNotReplayableError({ request });
    this.#sends++;
    // A Blob or FormData is streamed afresh for each send: never held whole in memory.
    if (this.#kind === 'blob') {
      const blob = this.#source as Blob;
      return { data: Readable.fromWeb(blob.stream() as NodeReadableStream<Uint8Array>), length: blob.size };
    }
    if (this.#kind === 'form-data') {
      // The Fetch standard's own multipart encoder: it streams each part and gives the boundary.
      const encoded = new Response(this.#source as FormData);
      return {
        data: Readable.fromWeb(encoded.body as NodeReadableStream<Uint8Array>),
        contentType: encoded.headers.get('content-type') ?? undefined,
      };
    }
    return this.#materialized ?? (this.#materialized = await this.#materialize());
  }

  /**
   * The payload without awaiting, for bodies whose bytes are at hand (strings and bytes);
   * `undefined` for Blob, FormData and streams, which need {@link RequestBody.take}.
   */
  takeSync(): BodyPayload | undefined {
    if (this.#kind !== 'text' && this.#kind !== 'bytes') return undefined;
    this.#sends++;
    return (this.#materialized ??= { data: this.#source as string | Uint8Array });
  }

  /** The whole body as bytes, for layers that need to read it (a cache key, a signature). Streams are not read. */
  async bytes(): Promise<Uint8Array | undefined> {
    if (this.#kind === 'stream') return undefined;
    const { data } = this.#materialized ?? (this.#materialized = await this.#materialize());
    return typeof data === 'string' ? new TextEncoder().encode(data) : (data as Uint8Array);
  }

  async #materialize(): Promise<BodyPayload> {
    const source = this.#source;
    switch (this.#kind) {
      case 'text':
      case 'bytes':
      case 'stream':
        return { data: source as string | Uint8Array | Readable };
      case 'blob': {
        const bytes = new Uint8Array(await (source as Blob).arrayBuffer());
        return { data: bytes, length: bytes.byteLength };
      }
      case 'form-data': {
        // The Fetch standard's own multipart encoder gives the boundary and the bytes in one go.
        const encoded = new Response(source as FormData);
        const bytes = new Uint8Array(await encoded.arrayBuffer());
        return { data: bytes, length: bytes.byteLength, contentType: encoded.headers.get('content-type') ?? undefined };
      }
    }
  }
}
