import type { TokenSource } from './options.js';

/**
 * One credential header value, fixed or from a token getter. A getter is called once, on first
 * use, and again only by `refresh()`: concurrent callers share the call in flight (single
 * flight), and a refresh asked for with a value that was already replaced returns the new value
 * without calling the getter again. So 100 requests refused at once cost one refresh.
 */
export class Credential {
  /** `apiKey`, `bearer`, `oauth2` or `basic`: named in errors and `describe()`. */
  readonly kind: string;
  /** The header it goes in (lower-case). */
  readonly header: string;
  /** True for a getter: a refused value can be refreshed. */
  readonly refreshable: boolean;
  readonly #getter: (() => string | Promise<string>) | undefined;
  readonly #format: (token: string) => string;
  #value: string | undefined;
  #pending: Promise<string> | undefined;

  constructor(kind: string, header: string, source: TokenSource, format: (token: string) => string = (token) => token) {
    this.kind = kind;
    this.header = header.toLowerCase();
    this.#format = format;
    if (typeof source === 'string') {
      this.#value = format(source);
      this.refreshable = false;
    } else {
      this.#getter = source;
      this.refreshable = true;
    }
  }

  /** The header value: at once when known, else after the getter (shared by concurrent callers). */
  value(): string | Promise<string> {
    return this.#value ?? this.#pending ?? this.#fetch();
  }

  /**
   * A fresh value after the server refused `stale`. When `stale` was already replaced, the
   * current value is returned without calling the getter.
   */
  refresh(stale: string): string | Promise<string> {
    if (this.#pending !== undefined) return this.#pending;
    if (this.#value !== undefined && this.#value !== stale) return this.#value;
    if (this.#getter === undefined) return stale;
    this.#value = undefined;
    return this.#fetch();
  }

  #fetch(): Promise<string> {
    const getter = this.#getter as () => string | Promise<string>;
    const pending = (async () => {
      const token = await getter();
      if (typeof token !== 'string' || token === '') {
        throw new TypeError(`returned ${token === '' ? 'an empty string' : typeof token} instead of a token`);
      }
      return this.#format(token);
    })();
    this.#pending = pending;
    pending.then(
      (value) => {
        if (this.#pending === pending) {
          this.#value = value;
          this.#pending = undefined;
        }
      },
      () => {
        if (this.#pending === pending) this.#pending = undefined;
      },
    );
    return pending;
  }
}
