import type { Logger } from '@shallot/core';
import type CachePolicy from 'http-cache-semantics';
import { newEpoch, type RequestKeys, variantKey, variantOf } from './cache-keys.js';
import { storedPolicy } from './policy.js';
import type { PolicyClass } from './policy-class.js';
import type { CacheEntry, CacheRecord, CacheStore, CacheStoreSetOptions } from './store.js';
import { normalisedValue, preferredLanguage } from './vary.js';

/** A stored entry that matches the request. */
export interface Found {
  /** Where it is stored. */
  readonly key: string;
  readonly entry: CacheEntry;
  readonly policy: CachePolicy;
  readonly vary: readonly string[];
  readonly variant: string;
}

// Variants listed in an index; past this, the oldest are deleted.
const maxVariants = 64;
// Variants looked at when choosing one by language.
const maxLanguageCandidates = 16;

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The cache's records in its store: indexes under primary keys, entries under variant keys. The
 * store is never allowed to fail a request: a failing read is a miss, a failing write is a
 * response not stored, and each is logged.
 */
export class Entries {
  readonly #store: CacheStore;

  constructor(store: CacheStore) {
    this.#store = store;
  }

  async read(log: Logger, key: string): Promise<CacheRecord | undefined> {
    try {
      return await this.#store.get(key);
    } catch (error) {
      log.warn({ err: error }, 'cache: store read failed; treated as a miss');
      return undefined;
    }
  }

  async write(log: Logger, key: string, record: CacheRecord, options?: CacheStoreSetOptions): Promise<void> {
    try {
      await this.#store.set(key, record, options);
    } catch (error) {
      log.warn({ err: error }, 'cache: store write failed; response not stored');
    }
  }

  async remove(log: Logger, key: string): Promise<void> {
    try {
      await this.#store.delete(key);
    } catch (error) {
      log.warn({ err: error }, 'cache: store delete failed');
    }
  }

  /** The entry stored for the request `keys` and `headers` name, if any. */
  async lookup(log: Logger, keys: RequestKeys, headers: Headers, cls: PolicyClass): Promise<Found | undefined> {
    const index = await this.read(log, keys.primary);
    if (index?.kind !== 'index') return undefined;
    const variant = variantOf(keys, index.vary, headers);
    const key = variantKey(keys, index.epoch, variant);
    const entry = await this.read(log, key);
    if (entry?.kind === 'response') return { key, entry, policy: storedPolicy(cls, entry.policy), vary: index.vary, variant };
    if (!index.vary.includes('accept-language')) return undefined;
    return this.#byLanguage(log, keys, headers, cls, index.vary, index.epoch, index.variants);
  }

  /**
   * A variant in the language the request prefers most, when no variant has its exact
   * `Accept-Language`: the response a server negotiating on that header would pick, provided the
   * other varied headers match.
   */
  async #byLanguage(log: Logger, keys: RequestKeys, headers: Headers, cls: PolicyClass, vary: readonly string[], epoch: string, variants: readonly string[]): Promise<Found | undefined> {
    const language = preferredLanguage(headers.get('accept-language'));
    if (language === undefined) return undefined;
    const prefix = variantKey(keys, epoch, `${keys.credentials}\n`);
    for (const key of variants.slice(-maxLanguageCandidates)) {
      if (!key.startsWith(prefix)) continue;
      const entry = await this.read(log, key);
      if (entry?.kind !== 'response') continue;
      if (single(entry.policy.resh['content-language'])?.trim().toLowerCase() !== language) continue;
      const reqh = entry.policy.reqh ?? {};
      const others = vary.filter((name) => name !== 'accept-language' && !keys.credentialNames.has(name));
      if (!others.every((name) => normalisedValue(name, single(reqh[name]) ?? null) === normalisedValue(name, headers.get(name)))) continue;
      return { key, entry, policy: storedPolicy(cls, entry.policy), vary, variant: key.slice(variantKey(keys, epoch, '').length) };
    }
    return undefined;
  }

  /**
   * Stores `entry` as the `variant` of the request `keys` name, under an index of `vary`, and
   * returns the key it is stored under.
   */
  async put(log: Logger, keys: RequestKeys, vary: readonly string[], variant: string, entry: CacheEntry, options: CacheStoreSetOptions): Promise<string> {
    const index = await this.read(log, keys.primary);
    // The same Vary: the same generation. A new Vary (or no index): a new generation, and the
    // variants of the old one go out of reach.
    const current = index?.kind === 'index' && sameNames(index.vary, vary) ? index : undefined;
    const epoch = current?.epoch ?? newEpoch();
    const key = variantKey(keys, epoch, variant);
    if (current === undefined || !current.variants.includes(key)) {
      const variants = [...(current?.variants ?? []), key];
      const dropped = variants.length > maxVariants ? variants.splice(0, variants.length - maxVariants) : [];
      await this.write(log, keys.primary, { kind: 'index', vary, epoch, variants });
      for (const old of dropped) await this.remove(log, old);
      if (index?.kind === 'index' && current === undefined) for (const old of index.variants) await this.remove(log, old);
    }
    await this.write(log, key, entry, options);
    return key;
  }

  /** Deletes the index of a primary key and the variants it lists. */
  async drop(log: Logger, primary: string): Promise<void> {
    const index = await this.read(log, primary);
    await this.remove(log, primary);
    if (index?.kind === 'index') for (const key of index.variants) await this.remove(log, key);
  }
}
