import { describe, expect, it } from 'vitest';
import { describeMachine, takeMachineSnapshot } from './perf-machine.js';

describe('describeMachine', () => {
  it('names CPU, cores, load before and after, Node and ORT', () => {
    const machine = {
      cpuModel: 'AMD EPYC 7B13  64-Core   Processor ',
      cores: 2,
      nodeVersion: 'v20.20.2',
      ortVersion: '1.30.0',
    };
    expect(describeMachine(machine, { before: 1.7, after: 3.456 })).toBe(
      'AMD EPYC 7B13 64-Core Processor, 2 cores, load 1.70 → 3.46, Node v20.20.2, ORT 1.30.0',
    );
  });

  it('says what it does not know', () => {
    const machine = { cpuModel: ' ', cores: 1, nodeVersion: 'v22.1.0', ortVersion: null };
    expect(describeMachine(machine, { before: 0, after: 0.5 })).toBe(
      'unknown CPU, 1 core, load 0.00 → 0.50, Node v22.1.0, ORT unknown',
    );
  });

  it('snapshots this process', () => {
    const snapshot = takeMachineSnapshot();
    expect(snapshot.nodeVersion).toBe(process.version);
    expect(snapshot.cores).toBeGreaterThanOrEqual(1);
  });
});
