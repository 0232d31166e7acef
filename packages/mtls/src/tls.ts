import { type BaseContext, defineMiddleware, isNetworkError, type Middleware, parseOptions, type TlsOptions as CoreTlsOptions } from '@shallot/core';
import { endpointMatcher } from './endpoint-match.js';
import { type ResolvedTlsOptions, type TlsOptions, tlsOptionsSchema } from './options.js';
import { type Built, buildConfig, defaultConfigName, type Settings, settingsFor } from './tls-config.js';
import { isTlsPinningError, TlsPinningError } from './tls-pinning-error.js';
import { type FileWatch, watchFiles } from './watch.js';

/** What a reload did, as `onReload` listeners see it. */
export interface TlsReloadEvent {
  /** `reload`: a `reload()` call; `watch`: a change of a watched file. */
  readonly trigger: 'reload' | 'watch';
  /**
   * The configurations whose material changed (`(default)` or endpoint patterns): new
   * connections use the new material. Empty when nothing changed or the reload failed.
   */
  readonly changed: readonly string[];
  /** Why the reload failed (an `InvalidOptionsError`); the previous material stays in use. */
  readonly error?: unknown;
}

/** The `tls()` middleware, with certificate rotation controls. */
export interface TlsMiddleware extends Middleware {
  /**
   * Re-reads every file given as a path and, where the material changed, builds new TLS
   * settings: new connections use them; requests in flight finish on their connections.
   * Returns the configurations that changed. Throws `InvalidOptionsError` (and keeps the
   * previous material) when the new files are unreadable or do not fit together.
   */
  reload(): readonly string[];
  /** Listens to reloads, by `reload()` or by a watched file. */
  onReload(listener: (event: TlsReloadEvent) => void): { dispose(): void };
  /** Stops watching files; `client.close()` calls it. */
  readonly close: () => Promise<void>;
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/**
 * Gives a pinning failure the request it failed (method and URL in the message). undici hands
 * the handshake's `TlsPinningError` through; node-fetch keeps only its code, so the details are
 * taken from the configuration's failure log.
 */
function pinningFailure(error: unknown, ctx: BaseContext, built: Built): unknown {
  if (isTlsPinningError(error)) {
    if (error.url !== undefined) return error;
    return new TlsPinningError({ host: error.host, seen: error.seen, expected: error.expected, request: ctx.request, cause: error });
  }
  if (built.pins.length > 0 && isNetworkError(error) && codeOf(error.cause) === 'ERR_TLS_PIN') {
    const host = built.servername ?? bareHost(ctx.request.url);
    const seen = built.failures.find(host);
    return new TlsPinningError({ host: seen?.host ?? host, seen: seen?.seen ?? [], expected: built.pins, request: ctx.request, cause: error });
  }
  return error;
}

function describeMaterial(value: string | Uint8Array | undefined, secret: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return secret ? '[redacted]' : `<${value.byteLength} bytes>`;
  if (value.includes('-----BEGIN')) return secret ? '[redacted]' : '<PEM>';
  return value;
}

/** The options as `describe()` shows them: file paths, never key material or passphrases. */
function describeOptions(resolved: ResolvedTlsOptions): unknown {
  const one = (o: Omit<ResolvedTlsOptions, 'endpoints' | 'watch' | 'watchDebounceMs' | 'logger' | 'caMode' | 'rejectUnauthorized'> & {
    caMode?: string | undefined;
    rejectUnauthorized?: boolean | undefined;
  }): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      cert: describeMaterial(o.cert, false),
      key: describeMaterial(o.key, true),
      passphrase: o.passphrase === undefined ? undefined : '[redacted]',
      pfx: describeMaterial(o.pfx, true),
      ca: Array.isArray(o.ca) ? o.ca.map((c) => describeMaterial(c, false)) : describeMaterial(o.ca, false),
      caMode: o.caMode,
      rejectUnauthorized: o.rejectUnauthorized,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
      servername: o.servername,
      pins: o.pins,
    };
    for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
    return out;
  };
  const endpoints = resolved.endpoints === undefined ? undefined : Object.fromEntries(Object.entries(resolved.endpoints).map(([p, e]) => [p, one(e)]));
  return { ...one(resolved), ...(endpoints === undefined ? {} : { endpoints }), watch: resolved.watch };
}

/**
 * TLS for every request through this layer: client certificates (mutual TLS), the CAs that
 * verify the server, protocol versions and ciphers, and SPKI pins checked on the real peer
 * chain during the handshake. It sets `ctx.tls` to one TLS settings object per configuration
 * (the default, and one per endpoint pattern), which the transport maps to a pooled agent or
 * dispatcher of its own: connections are re-used within a configuration and never shared
 * between configurations. Place it innermost (just outside the transport) so a pinning
 * failure reaches outer layers as a `TlsPinningError` on every transport.
 *
 * Files are read, and the material checked, when `tls()` is called: an unreadable file, a key
 * that does not match its certificate, a wrong passphrase or a malformed pin throws
 * `InvalidOptionsError` then. `reload()` (or `watch: true`) re-reads the files for rotation.
 *
 * @example
 * const mtls = tls({ cert: '/etc/client.crt', key: '/etc/client.key', ca: '/etc/ca.pem', pins: [pin, backupPin] });
 * const client = compose().use(retry()).use(mtls).build();
 * // after the files were rotated:
 * mtls.reload();
 */
export function tls(options: TlsOptions = {}): TlsMiddleware {
  const resolved = parseOptions(tlsOptionsSchema, options, 'tls');
  const patterns = Object.keys(resolved.endpoints ?? {});
  const match = endpointMatcher(patterns);
  const settings: Settings[] = [settingsFor(resolved), ...patterns.map((pattern) => settingsFor(resolved, pattern))];
  let configs = new Map<string, Built>(settings.map((s) => [s.name, buildConfig(s)]));
  const warned = new Set<string>();
  const listeners = new Set<(event: TlsReloadEvent) => void>();
  const logger = resolved.logger;

  const emit = (event: TlsReloadEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger?.warn({ err: error }, 'tls: an onReload listener threw');
      }
    }
  };

  const load = (trigger: TlsReloadEvent['trigger']): readonly string[] => {
    let next: Map<string, Built>;
    try {
      next = new Map(settings.map((s) => [s.name, buildConfig(s, configs.get(s.name))]));
    } catch (error) {
      emit({ trigger, changed: [], error });
      throw error;
    }
    const changed = [...next].filter(([name, built]) => configs.get(name) !== built).map(([name]) => name);
    configs = next;
    emit({ trigger, changed });
    return changed;
  };

  let watcher: FileWatch | undefined;
  if (resolved.watch) {
    const files = [...new Set([...configs.values()].flatMap((built) => built.files))];
    if (files.length > 0) {
      watcher = watchFiles(
        files,
        resolved.watchDebounceMs,
        () => {
          try {
            const changed = load('watch');
            if (changed.length > 0) logger?.info({ changed }, 'tls: reloaded certificates');
          } catch (error) {
            logger?.warn({ err: error }, 'tls: reloading certificates failed; the previous ones stay in use');
          }
        },
        (error) => logger?.warn({ err: error }, 'tls: watching certificate files failed'),
      );
    }
  }

  const configFor = (url: URL): Built => configs.get((patterns.length === 0 ? undefined : match(url)) ?? defaultConfigName) as Built;
  // A redirect to another host gets that host's settings (its client certificate, its pins).
  const tlsFor = (url: URL): CoreTlsOptions => configFor(url).tls;

  const middleware = defineMiddleware(
    async function tls(ctx, next) {
      const built = configFor(ctx.request.url);
      if (built.insecure && !warned.has(built.name)) {
        warned.add(built.name);
        (logger ?? ctx.log).warn(
          { endpoint: built.name },
          'tls: rejectUnauthorized is false: server certificates are not verified, so any server (or interceptor) is accepted',
        );
      }
      // Left set afterwards, so `exchange().context.tls` shows the settings the request used.
      ctx.tls = built.tls;
      ctx.tlsFor = tlsFor;
      try {
        return await next();
      } catch (error) {
        throw pinningFailure(error, ctx, built);
      }
    },
    {
      name: 'tls',
      options: describeOptions(resolved),
      close: async () => {
        watcher?.close();
        watcher = undefined;
      },
    },
  );
  Object.defineProperties(middleware, {
    reload: { value: () => load('reload'), enumerable: true },
    onReload: {
      value: (listener: (event: TlsReloadEvent) => void) => {
        listeners.add(listener);
        return { dispose: () => void listeners.delete(listener) };
      },
      enumerable: true,
    },
  });
  return middleware as TlsMiddleware;
}
