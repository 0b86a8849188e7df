import { defineConfig } from 'vitest/config';
import { unitTests } from '../../vitest.shared';

export default defineConfig({ test: unitTests });
