import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared';

export default defineConfig(
  library([
    'src/index.ts',
    'src/cli.ts',
    'src/testing/index.ts',
    'src/inference/engine-worker.ts',
    'src/training/train-worker.ts',
  ]),
);
