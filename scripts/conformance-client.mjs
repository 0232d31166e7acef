// The client the cache-tests runner drives: `cache()` over the default (undici) transport, in
// the profile the runner asks for. Loaded by ../shared/conformance/cache-tests/run.mjs through
// `--client module:<this file>`; see scripts/conformance.mjs.
import { cache } from '@shallot/cache';
import { compose } from '@shallot/core';

/** The runner's factory: a client with a private or shared cache. */
export default async function createClient({ cacheType }) {
  const shared = cacheType === 'shared';
  const client = compose().use(cache({ shared })).build();
  return {
    // The runner passes fetch's init (headers as pairs, cache, redirect, body, signal, mode,
    // credentials); shallot takes the fetch members it knows.
    fetch: (url, init = {}) =>
      client.fetch(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        cache: init.cache,
        redirect: init.redirect,
      }),
    close: () => client.close(),
    info: { description: `shallot cache({ shared: ${shared} }) over undiciTransport()` },
  };
}
