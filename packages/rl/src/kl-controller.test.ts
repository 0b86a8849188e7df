import { describe, expect, it } from 'vitest';
import { adaptiveKlCoef } from './kl-controller.js';

describe('adaptiveKlCoef', () => {
  it('moves β towards the target KL, at most ±20 % per horizon', () => {
    // KL twice the target: error clipped to 0.2; 512 samples of a 10000 horizon
    expect(adaptiveKlCoef(0.001, 0.2, 512, { targetKl: 0.1, horizon: 10000 })).toBeCloseTo(
      0.001 * (1 + (0.2 * 512) / 10000),
      15,
    );
    // KL 5 % under target: error −0.05
    expect(adaptiveKlCoef(0.001, 0.095, 1000, { targetKl: 0.1, horizon: 1000 })).toBeCloseTo(
      0.001 * 0.95,
      15,
    );
    expect(adaptiveKlCoef(0.001, 0.1, 1000, { targetKl: 0.1, horizon: 1000 })).toBe(0.001);
  });

  it('rejects a non-positive target, naming it', () => {
    expect(() => adaptiveKlCoef(0.001, 0.1, 1, { targetKl: 0, horizon: 1 })).toThrow(/field 'targetKl'/);
  });
});
