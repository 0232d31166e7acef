import { type CacheEntry, memoryCacheStore } from '@shallot/cache';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function entry(bodyBytes: number): CacheEntry {
  return {
    kind: 'response',
    status: 200,
    statusText: 'OK',
    body: new Uint8Array(bodyBytes),
    policy: { v: 1, t: 0, sh: false, ch: 0.1, imm: 0, st: 200, resh: { 'cache-control': 'max-age=60' }, rescc: { 'max-age': '60' }, m: 'GET', u: '/x', h: 'h', a: true, reqh: null, reqcc: {} },
  };
}

describe('memoryCacheStore', () => {
  it('never holds more than maxSizeBytes, and always keeps the record just set when it fits', () => {
    const maxSizeBytes = 8_000;
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), size: fc.integer({ min: 0, max: 3_000 }), get: fc.boolean() }), { maxLength: 60 }),
        (ops) => {
          const store = memoryCacheStore({ maxSizeBytes });
          const present = new Set<string>();
          for (const op of ops) {
            if (op.get) {
              store.get(op.key);
              continue;
            }
            const record = entry(op.size);
            store.set(op.key, record);
            present.add(op.key);
            expect(store.usage().bytes).toBeLessThanOrEqual(maxSizeBytes);
            expect(store.get(op.key)).toBe(record);
          }
          const held = [...present].filter((key) => store.get(key) !== undefined).length;
          expect(store.usage().entries).toBe(held);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('does not keep a record larger than the bound, nor the older one under its key', () => {
    const store = memoryCacheStore({ maxSizeBytes: 4_000 });
    store.set('k', entry(100));
    store.set('k', entry(10_000));
    expect(store.get('k')).toBeUndefined();
    expect(store.usage()).toEqual({ bytes: 0, entries: 0 });
  });

  it('evicts the least recently used first', () => {
    // Each record is charged its 2,000 bytes of body and about 1 KB for its objects and strings.
    const store = memoryCacheStore({ maxSizeBytes: 7_000 });
    store.set('a', entry(2_000));
    store.set('b', entry(2_000));
    store.get('a');
    store.set('c', entry(2_000));
    expect(store.get('a')).toBeDefined();
    expect(store.get('b')).toBeUndefined();
    expect(store.get('c')).toBeDefined();
  });
});
