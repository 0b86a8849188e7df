import { Sr1Error } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { BenchFailedError, BenchInvariantError, PeerUnavailableError } from './errors.js';

describe('bench errors', () => {
  it('are Sr1Errors with stable codes and their own names', () => {
    const cases = [
      [new PeerUnavailableError('PyTorch', 'apt-get install python3-torch'), 'peer_unavailable'],
      [new BenchFailedError('check failed'), 'bench_failed'],
      [new BenchInvariantError('no runs; expected one per thread count'), 'bench_invariant'],
    ] as const;
    for (const [error, code] of cases) {
      expect(error).toBeInstanceOf(Sr1Error);
      expect(error.code).toBe(code);
      expect(error.name).toBe(error.constructor.name);
    }
    expect(new PeerUnavailableError('PyTorch', 'install it').message).toBe(
      'PyTorch is not available: install it',
    );
  });
});
