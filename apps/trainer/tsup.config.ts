import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared';

// playwright-core (a dev dependency, loaded only by the report's browser check) is never bundled.
export default defineConfig(library(['src/index.ts', 'src/cli.ts'], { external: ['playwright-core'] }));
