import { compose } from '@shallot/core';
import { loadBalancer } from '@shallot/load-balancer';
import { mockTransport } from '@shallot/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('loadBalancer: weighted (smooth weighted round-robin), property', () => {
  it('gives every endpoint exactly its weight per cycle, and never strays 2 picks from its share on the way', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }), async (weights, cycles) => {
        const endpoints = weights.map((weight, i) => ({ url: `http://e${i}.test`, weight }));
        const transport = mockTransport(() => new Response(null, { status: 204 }));
        const client = compose().use(loadBalancer({ endpoints, strategy: 'weighted' })).build({ transport });
        const total = weights.reduce((a, b) => a + b, 0);
        const counts = weights.map(() => 0);
        try {
          for (let m = 1; m <= total * cycles; m++) {
            await client.get('/x');
            const host = new URL(transport.calls.at(-1)!.url).hostname;
            counts[Number(host.slice(1, -'.test'.length))]!++;
            for (const [i, weight] of weights.entries()) {
              expect(Math.abs(counts[i]! - (m * weight) / total)).toBeLessThan(2);
            }
          }
          expect(counts).toEqual(weights.map((w) => w * cycles));
        } finally {
          await client.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
