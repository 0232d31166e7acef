import { Client, type Dispatcher } from 'undici';

/** What an {@link OriginPool} is built with. */
export interface OriginPoolOptions {
  /** Connections at most (`maxSockets`). */
  readonly connections: number;
  /** undici `Client` options shared by every connection (connector, keep-alive, h2, timeouts). */
  readonly client: Client.Options;
}

type RequestOptions = Dispatcher.RequestOptions;
type Callback = (error: Error | null, data: Dispatcher.ResponseData) => void;
type RequestFn = (this: { dispatch: Dispatcher['dispatch'] }, options: RequestOptions, callback: Callback) => void;

// undici's request() API (the RequestHandler that gives a body with json()/text()), called with a
// `this` of our own so that we see what each connection's dispatch() answers.
const requestApi = (Client.prototype as unknown as { request: RequestFn }).request;

interface Connection {
  readonly client: Client;
  /** Calls the client's dispatch and notes whether it is busy afterwards. */
  readonly via: { dispatch: Dispatcher['dispatch'] };
  busy: boolean;
}

interface Waiting {
  readonly options: RequestOptions;
  readonly callback: Callback;
  readonly onAbort: (() => void) | undefined;
}

/** An abort signal as undici reads it: ours (`TransportSignal`) or a real one. */
interface SignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The connections to one origin: up to `connections` undici `Client`s (one socket each), a
 * request going to an idle one, a new one while there are fewer than the maximum, else waiting
 * in order for the first to free up.
 *
 * undici's `Pool` does the same, with one difference that matters: when its first connection
 * takes a request it creates a second client at once, and a request sent right after the first
 * completed (before the first client reported itself free, a tick later) goes to that second
 * client, which opens a second connection. Three sequential HTTPS requests then cost two TLS
 * handshakes. Here a connection that has finished its work is reused even before it says so.
 */
export class OriginPool {
  readonly #origin: string;
  readonly #options: OriginPoolOptions;
  readonly #connections: Connection[] = [];
  readonly #idle: Connection[] = [];
  readonly #waiting: Waiting[] = [];
  #closed = false;

  constructor(origin: string, options: OriginPoolOptions) {
    this.#origin = origin;
    this.#options = options;
  }

  /** Sends a request on a free connection, or once one frees up; resolves with undici's response data. */
  request(options: RequestOptions): Promise<Dispatcher.ResponseData> {
    return new Promise((resolve, reject) => {
      this.#send(options, (error, data) => (error === null ? resolve(data) : reject(error)));
    });
  }

  #send(options: RequestOptions, callback: Callback): void {
    const connection = this.#pick();
    if (connection !== undefined) {
      requestApi.call(connection.via, options, callback);
      return;
    }
    const signal = options.signal as SignalLike | null | undefined;
    if (signal?.aborted === true) {
      callback(toError(signal.reason), undefined as unknown as Dispatcher.ResponseData);
      return;
    }
    let onAbort: (() => void) | undefined;
    if (signal !== undefined && signal !== null) {
      onAbort = () => {
        const index = this.#waiting.indexOf(entry);
        if (index !== -1) this.#waiting.splice(index, 1);
        callback(toError(signal.reason), undefined as unknown as Dispatcher.ResponseData);
      };
      signal.addEventListener('abort', onAbort);
    }
    const entry: Waiting = { options, callback, onAbort };
    this.#waiting.push(entry);
  }

  #pick(): Connection | undefined {
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    const connections = this.#connections;
    if (connections.length < this.#options.connections) {
      // A connection whose last response just completed has not said it is free yet: reuse it
      // rather than open another socket.
      for (const connection of connections) {
        if (connection.busy && connection.client.stats.size === 0 && !connection.client.destroyed) return connection;
      }
      return this.#open();
    }
    return undefined;
  }

  #open(): Connection {
    const client = new Client(this.#origin, this.#options.client);
    const connection: Connection = {
      client,
      busy: false,
      via: {
        dispatch: (options, handler) => {
          const ready = client.dispatch(options, handler);
          if (!ready) connection.busy = true;
          else if (!this.#idle.includes(connection)) this.#idle.push(connection);
          return ready;
        },
      },
    };
    client.on('drain', () => this.#drained(connection));
    client.on('connectionError', () => this.#forget(connection));
    this.#connections.push(connection);
    return connection;
  }

  #drained(connection: Connection): void {
    connection.busy = false;
    const waiting = this.#waiting;
    while (waiting.length > 0 && !connection.busy) {
      const entry = waiting.shift() as Waiting;
      if (entry.onAbort !== undefined) (entry.options.signal as unknown as SignalLike).removeEventListener('abort', entry.onAbort);
      requestApi.call(connection.via, entry.options, entry.callback);
    }
    if (!connection.busy && !this.#idle.includes(connection)) this.#idle.push(connection);
  }

  // A connection that failed to connect is not used again (as undici's Pool does, #3895).
  #forget(connection: Connection): void {
    const index = this.#connections.indexOf(connection);
    if (index !== -1) this.#connections.splice(index, 1);
    const idle = this.#idle.indexOf(connection);
    if (idle !== -1) this.#idle.splice(idle, 1);
    // Requests waiting for a socket get a fresh connection now that there is room for one.
    if (this.#waiting.length > 0 && !this.#closed) this.#drained(this.#open());
  }

  /** Usage: open sockets, idle ones, requests running and waiting. */
  stats(): { connected: number; free: number; running: number; pending: number } {
    let connected = 0;
    let free = 0;
    let running = 0;
    let pending = this.#waiting.length;
    for (const { client } of this.#connections) {
      const stats = client.stats;
      if (stats.connected) connected++;
      if (stats.connected && stats.size === 0) free++;
      running += stats.running;
      pending += stats.pending;
    }
    return { connected, free, running, pending };
  }

  /** Waits for requests in flight, then closes every connection; waiting requests fail with `reason`. */
  async close(reason: Error): Promise<void> {
    this.#closed = true;
    this.#failWaiting(reason);
    await Promise.all(this.#connections.map((c) => c.client.close()));
  }

  /** Closes every connection now, failing requests in flight with `reason`. */
  async destroy(reason: Error): Promise<void> {
    this.#closed = true;
    this.#failWaiting(reason);
    await Promise.all(this.#connections.map((c) => c.client.destroy(reason)));
  }

  #failWaiting(reason: Error): void {
    for (const entry of this.#waiting.splice(0)) {
      if (entry.onAbort !== undefined) (entry.options.signal as unknown as SignalLike).removeEventListener('abort', entry.onAbort);
      entry.callback(reason, undefined as unknown as Dispatcher.ResponseData);
    }
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : Object.assign(new Error('This operation was aborted'), { name: 'AbortError', cause: reason });
}
