import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared';

// Declarations for the library entry only (the CLI has no public types).
export default defineConfig(library(['src/index.ts', 'src/cli.ts'], { dts: { entry: 'src/index.ts' } }));
