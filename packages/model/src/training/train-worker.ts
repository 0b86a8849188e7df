// The worker_thread of a `TrainWorker` started on its own (`TrainWorker.start`): it serves the
// training requests of the main thread on `parentPort` (see train-host.ts). A `TrainWorker`
// hosted in an engine worker's thread (`TrainWorker.over`) runs the same host there instead.

import { parentPort } from 'node:worker_threads';
import { EngineInvariantError } from '../errors.js';
import { serveTraining } from './train-host.js';

if (parentPort === null)
  throw new EngineInvariantError('train-worker.ts runs as a worker_thread (start it with TrainWorker.start)');
serveTraining(parentPort);
