// @sr1 bench app: see src/cli.ts.
export { CHECK_CONFIG, checkTrainStep } from './train-step-check.js';
