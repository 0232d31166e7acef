import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

/** What a {@link createTestProxy} saw. */
export interface ProxyLogEntry {
  /** `CONNECT` for a tunnel, else the method of a forwarded request. */
  readonly method: string;
  /** The tunnel's `host:port`, or the absolute URL of a forwarded request. */
  readonly target: string;
  /** The `Proxy-Authorization` the client sent, if any. */
  readonly proxyAuthorization: string | undefined;
}

/** A forward proxy on loopback for tests. */
export interface TestProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (with `user:pass@` when it requires credentials). */
  readonly url: string;
  readonly port: number;
  /** Everything it was asked to do, oldest first (refused requests included). */
  readonly log: readonly ProxyLogEntry[];
  close(): Promise<void>;
}

/** Options of {@link createTestProxy}. */
export interface TestProxyOptions {
  /** Require these Basic credentials (`407` without them). */
  auth?: { username: string; password: string };
}

/**
 * A real HTTP forward proxy on 127.0.0.1: plain requests in absolute form are forwarded, and
 * `CONNECT host:port` opens a TCP tunnel (how https goes through a proxy). It records each
 * request it handled, for tests that check traffic really went through it.
 *
 * @example
 * const proxy = await createTestProxy();
 * const client = compose().build({ transport: undiciTransport({ proxy: proxy.url }) });
 */
export async function createTestProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const log: ProxyLogEntry[] = [];
  const expected = options.auth === undefined ? undefined : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
  const sockets = new Set<net.Socket>();
  const allowed = (header: string | undefined): boolean => expected === undefined || header === expected;

  const server = http.createServer((request, response) => {
    const proxyAuthorization = request.headers['proxy-authorization'];
    log.push({ method: request.method ?? 'GET', target: request.url ?? '', proxyAuthorization });
    if (!allowed(proxyAuthorization)) {
      response.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    let target: URL;
    try {
      target = new URL(request.url ?? '');
    } catch {
      response.writeHead(400).end('absolute-form URL expected');
      return;
    }
    const headers = { ...request.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: request.method, headers },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  server.on('connect', (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const proxyAuthorization = request.headers['proxy-authorization'];
    log.push({ method: 'CONNECT', target: request.url ?? '', proxyAuthorization });
    client.on('error', () => {});
    if (!allowed(proxyAuthorization)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const [host, port] = (request.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const credentials = options.auth === undefined ? '' : `${encodeURIComponent(options.auth.username)}:${encodeURIComponent(options.auth.password)}@`;
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://${credentials}127.0.0.1:${port}`, port, log, close, [Symbol.asyncDispose]: close };
}
