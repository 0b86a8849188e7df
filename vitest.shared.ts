// The test settings every package shares. No test has a wall-clock limit (these machines are
// noisy, and a busy 2-core box can make any test slow): the timeouts only catch a hang.

export const unitTests = {
  include: ['src/**/*.test.ts'],
  exclude: ['src/**/*.slow.test.ts', 'src/**/*.gpu.test.ts'],
  testTimeout: 900_000,
  hookTimeout: 900_000,
};

export const slowTests = {
  include: ['src/**/*.slow.test.ts'],
  testTimeout: 3_600_000,
  hookTimeout: 3_600_000,
};
