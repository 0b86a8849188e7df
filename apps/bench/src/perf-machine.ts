// The machine a benchmark row was measured on: CPU model and cores, the load average before and
// after the benchmark (other work on a shared box moves every number), Node and ORT versions.

import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';

export interface MachineSnapshot {
  cpuModel: string;
  cores: number;
  nodeVersion: string;
  /** onnxruntime-node's version as @sr1/model resolves it; null when it cannot be found. */
  ortVersion: string | null;
}

/** One-minute load averages around a benchmark. */
export interface LoadWindow {
  before: number;
  after: number;
}

/** `AMD EPYC 7B13, 2 cores, load 1.70 → 2.45, Node v20.20.2, ORT 1.30.0`. */
export function describeMachine(machine: MachineSnapshot, load: LoadWindow): string {
  const model = machine.cpuModel.replace(/\s+/g, ' ').trim() || 'unknown CPU';
  return [
    model,
    `${machine.cores} ${machine.cores === 1 ? 'core' : 'cores'}`,
    `load ${load.before.toFixed(2)} → ${load.after.toFixed(2)}`,
    `Node ${machine.nodeVersion}`,
    `ORT ${machine.ortVersion ?? 'unknown'}`,
  ].join(', ');
}

/** The one-minute load average now. */
export function currentLoad(): number {
  return loadavg()[0] ?? 0;
}

function ortVersion(): string | null {
  try {
    // Resolved from @sr1/model, whose dependency it is (sr1-bench does not depend on it directly).
    const require = createRequire(import.meta.resolve('@sr1/model'));
    return String((require('onnxruntime-node/package.json') as { version: unknown }).version);
  } catch {
    return null;
  }
}

export function takeMachineSnapshot(): MachineSnapshot {
  return {
    cpuModel: cpus()[0]?.model ?? '',
    cores: availableParallelism(),
    nodeVersion: process.version,
    ortVersion: ortVersion(),
  };
}
