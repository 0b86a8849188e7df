import { defineConfig } from 'vitest/config';
import { slowTests } from '../../vitest.shared';

export default defineConfig({ test: slowTests });
