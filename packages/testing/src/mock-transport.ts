import { abortReason, type BaseContext, type Transport, untilAborted } from '@shallot/core';

/** A request as the mock transport saw it. */
export interface MockCall {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  /** The body as text, or `undefined` when there was none. */
  readonly body: string | undefined;
  /** The attempt number the context carried. */
  readonly attempt: number;
  /** The context of the call. */
  readonly ctx: BaseContext;
}

/** Answers a call: a Response, or a promise of one; throwing makes the call fail. */
export type MockHandler = (call: MockCall) => Response | Promise<Response>;

/** A transport that answers from a function and keeps the history of calls. */
export interface MockTransport extends Transport {
  /** Every call, oldest first. */
  readonly calls: readonly MockCall[];
  /** Forgets the history. */
  reset(): void;
}

/**
 * A transport that never touches the network: `handler` answers each call. For unit tests of
 * middlewares; prefer `createTestServer()` where a real socket matters. Honours `ctx.signal`.
 *
 * @example
 * const transport = mockTransport(() => Response.json({ ok: true }));
 * const client = compose().use(myMiddleware()).build({ transport });
 */
export function mockTransport(handler: MockHandler = () => new Response(null, { status: 200 })): MockTransport {
  const calls: MockCall[] = [];
  let closed = false;

  async function send(ctx: BaseContext): Promise<Response> {
    if (closed) throw new Error('mockTransport: closed');
    const signal = ctx.signal;
    if (signal.aborted) throw abortReason(signal);
    const { request } = ctx;
    let body: string | undefined;
    if (request.body !== null) {
      const payload = await request.body.take(request);
      const data = payload.data;
      if (typeof data === 'string') body = data;
      else if (data instanceof Uint8Array) body = new TextDecoder().decode(data);
      else {
        const chunks: Buffer[] = [];
        for await (const chunk of data) chunks.push(Buffer.from(chunk as Uint8Array));
        body = Buffer.concat(chunks).toString();
      }
    }
    const call: MockCall = {
      method: request.method,
      url: request.url.href,
      headers: new Headers(request.headers),
      body,
      attempt: ctx.attempt,
      ctx,
    };
    calls.push(call);
    const answer = Promise.resolve().then(() => handler(call));
    return untilAborted(answer, signal);
  }

  return {
    name: 'mock',
    calls,
    send,
    reset: () => {
      calls.length = 0;
    },
    close: async () => {
      closed = true;
    },
  };
}
