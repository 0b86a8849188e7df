// Errors thrown by sr1-bench: a peer that is not installed, a benchmark that ran and failed, and
// an invariant of the bench's own bookkeeping that did not hold.

import { Sr1Error } from '@sr1/core';

/** A Python peer (PyTorch, FAISS, llama.cpp) is missing; `remedy` says how to install it. */
export class PeerUnavailableError extends Sr1Error {
  constructor(peer: string, remedy: string, options?: { cause?: unknown }) {
    super('peer_unavailable', `${peer} is not available: ${remedy}`, options);
  }
}

/** A benchmark or check that ran and failed: exit 1 with one line (the details were printed). */
export class BenchFailedError extends Sr1Error {
  constructor(what: string) {
    super('bench_failed', what);
  }
}

/**
 * The bench's own bookkeeping broke an invariant (a benchmark returned no runs, two rows share
 * an id, a row mixes units): a bug in sr1-bench, never bad user input. The message says what was
 * expected.
 */
export class BenchInvariantError extends Sr1Error {
  constructor(message: string) {
    super('bench_invariant', message);
  }
}
