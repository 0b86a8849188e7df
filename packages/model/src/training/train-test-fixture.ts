// Test support shared by the train-worker tests (not part of the package's entries): one ragged
// token batch, and a check that two sets of buffers are equal bit for bit, name by name.

import { expect } from 'vitest';
import { tokenBatch } from '../testing/index.js';

/** Three right-padded rows of a 40-token vocabulary, padded to 6. */
export const TRAIN_TEST_BATCH = tokenBatch(
  [
    [1, 5, 9, 13, 17, 21],
    [2, 4, 8],
    [39, 0, 7, 7, 3],
  ],
  6,
);

/** The same names in the same order, each buffer equal element for element. */
export function expectSameBuffers(
  actual: Map<string, Float32Array>,
  expected: Map<string, Float32Array>,
): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, data] of expected) expect(actual.get(name), name).toEqual(data);
}
