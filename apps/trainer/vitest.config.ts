import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.slow.test.ts', 'src/**/*.gpu.test.ts'],
    testTimeout: 300_000, // end-to-end tests run real training steps on 2 shared cores
  },
});
