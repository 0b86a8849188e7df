// @sr1/optim: optimisers and schedules over named float32 buffers.

export { GradientAccumulator } from './accumulate.js';
export type { AdamWOptions, AdamWState } from './adamw.js';
export { AdamW, isNormOrBias, sgdStep } from './adamw.js';
export type { ClipResult } from './clip.js';
export { clipGradNorm, globalNorm } from './clip.js';
export type { Schedule, ScheduleName, ScheduleOptions } from './schedule.js';
export { createSchedule } from './schedule.js';

export type { TensorBuffers } from './types.js';
