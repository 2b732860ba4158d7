import { describe, expect, it } from '@jest/globals';
import { mapLimit } from '../../src/util/concurrency.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('mapLimit', () => {
  it('keeps input order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 4, 3, 2, 1, 0], 2, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, x));
      inFlight--;
      return x * 10;
    });
    expect(out).toEqual([50, 40, 30, 20, 10, 0]);
    expect(peak).toBe(2);
  });

  it('stops starting work after the first failure and rethrows it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 1, async (x) => {
        started.push(x);
        await tick();
        if (x === 2) throw new Error('boom at 2');
        return x;
      }),
    ).rejects.toThrow('boom at 2');
    expect(started).toEqual([0, 1, 2]);
  });

  it('rejects a non-positive limit', async () => {
    await expect(mapLimit([1], 0, async (x) => x)).rejects.toThrow(/positive integer/);
  });
});
