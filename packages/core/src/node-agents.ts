import type * as http from 'node:http';
import type * as https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** An agent the node-fetch transport pools connections with. */
export type AnyAgent = http.Agent | https.Agent;

// What the node-fetch transport adds to Node's agents: an idle sweep, a connect timeout, a unix
// socket, and a look at the request each send hands the agent.

const freeSince = Symbol('shallot.freeSince');
type PooledSocket = Socket & { [freeSince]?: number };

/**
 * Closes sockets that have waited in the pool for about `idleMs` (between 1 and 1.5 times it).
 * The agent's own `timeout` option would re-arm a socket timer and add a listener on every
 * request (measured: 1-3 µs per request); here a request only stamps the socket it frees, and
 * one unref'd sweep walks the free lists. Returns the function that stops the sweep.
 */
export function closeIdleSockets(agent: AnyAgent, idleMs: number): () => void {
  const pooled = agent as unknown as { keepSocketAlive(socket: Socket): boolean };
  const keep = pooled.keepSocketAlive.bind(agent);
  pooled.keepSocketAlive = (socket: PooledSocket) => {
    const kept = keep(socket);
    if (kept) socket[freeSince] = Date.now();
    return kept;
  };
  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of (sockets ?? []) as PooledSocket[]) {
        if ((socket[freeSince] ?? Infinity) <= cutoff) socket.destroy();
      }
    }
  }, Math.max(10, Math.floor(idleMs / 2)));
  sweep.unref();
  return () => clearInterval(sweep);
}

// Agents for distinct TLS configurations are kept up to this many; the oldest is destroyed past it.
export const maxAgents = 32;

/** Adds a connect timeout to an agent: a socket not connected (and through TLS) in time is destroyed. */
export function guardConnect(agent: AnyAgent, connectMs: number | undefined, secure: boolean): AnyAgent {
  if (connectMs === undefined) return agent;
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`connect timeout after ${connectMs} ms`), { code: 'ERR_SHALLOT_CONNECT_TIMEOUT' });
      socket.destroy(error);
    }, connectMs);
    timer.unref();
    const done = (): void => clearTimeout(timer);
    socket.once(secure ? 'secureConnect' : 'connect', done);
    socket.once('close', done);
    return socket;
  };
  return agent;
}

/** The `ClientRequest` node-fetch made for one send, caught as the agent is handed it. */
export interface SentRequest {
  request?: http.ClientRequest;
}

let capturing: SentRequest | undefined;
const watchedAgents = new WeakSet<AnyAgent>();

/**
 * Runs `send` (a node-fetch call, which makes its `ClientRequest` synchronously) and notes the
 * request the agent receives, so a failure can tell whether it went over a reused socket
 * (`request.reusedSocket`, set by Node's agent).
 */
export function sendCapturing<T>(sent: SentRequest, agent: AnyAgent, send: () => Promise<T>): Promise<T> {
  if (!watchedAgents.has(agent)) {
    watchedAgents.add(agent);
    const pooled = agent as unknown as { addRequest: (request: http.ClientRequest, options: unknown) => void };
    const add = pooled.addRequest.bind(agent);
    pooled.addRequest = (request, options) => {
      if (capturing !== undefined) capturing.request = request;
      add(request, options);
    };
  }
  capturing = sent;
  try {
    return send();
  } finally {
    capturing = undefined;
  }
}

/** Closes the idle sockets an agent keeps for `url`'s host: after one turned out dead, the rest are suspect. */
export function dropFreeSockets(agent: AnyAgent, url: URL): void {
  const prefix = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}:`;
  for (const [name, sockets] of Object.entries(agent.freeSockets)) {
    if (name.startsWith(prefix)) for (const socket of sockets ?? []) socket.destroy();
  }
}

/** Makes an agent connect to a unix domain socket, whatever the URL's host and port. */
export function throughSocketPath(agent: AnyAgent, socketPath: string | undefined): AnyAgent {
  if (socketPath === undefined) return agent;
  const pooled = agent as unknown as { createConnection: (options: Record<string, unknown>, ...rest: unknown[]) => Duplex };
  const create = pooled.createConnection.bind(agent);
  pooled.createConnection = (options, ...rest) => create({ ...options, path: socketPath }, ...rest);
  return agent;
}

