import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distinctTorchPeers, type PerfEnvironment, planPerf, probePythonModule } from './perf-plan.js';
import { PERF_BENCHMARKS } from './perf-report.js';

/** Every peer and input present. */
function everything(): PerfEnvironment {
  return {
    torch: [
      { python: '/usr/bin/python3', executable: '/usr/bin/python3.11', version: '1.13.0a0' },
      { python: 'python3', executable: '/root/.pyenv/versions/3.11.7/bin/python3.11', version: '2.13.0+cpu' },
    ],
    faiss: { python: '/usr/bin/python3', executable: '/usr/bin/python3.11', version: '1.7.3' },
    llamaCpp: {
      dir: '/tmp/llamacpp',
      script: '/repo/packages/model/scripts/llama-cpp-speed.mjs',
      version: '3.21.1',
    },
    data: { dir: '../shared/data', corpus: true },
    index: null,
    trainConfig: { file: 'apps/trainer/assets/base-model-config.json', exists: true },
  };
}

const statuses = (environment: PerfEnvironment) =>
  Object.fromEntries(
    planPerf(PERF_BENCHMARKS, environment).benchmarks.map((planned) => [
      planned.benchmark,
      planned.status === 'skip' ? planned.reason : 'run',
    ]),
  );

describe('planPerf', () => {
  it('runs every benchmark when everything is there, against both PyTorch peers', () => {
    const plan = planPerf(PERF_BENCHMARKS, everything());
    expect(plan.benchmarks.map((planned) => [planned.benchmark, planned.status])).toEqual(
      PERF_BENCHMARKS.map((id) => [id, 'run']),
    );
    expect(plan.torchPeers.map((peer) => peer.version)).toEqual(['1.13.0a0', '2.13.0+cpu']);
  });

  it('plans only the selected benchmarks, in the order given', () => {
    const plan = planPerf(['hnsw', 'server'], everything());
    expect(plan.benchmarks.map((planned) => planned.benchmark)).toEqual(['hnsw', 'server']);
  });

  it('skips train without any PyTorch, naming each interpreter and the remedy', () => {
    const environment = everything();
    environment.torch = [
      { python: '/usr/bin/python3', error: "no module 'torch'" },
      { python: 'python3', error: 'not found' },
    ];
    const reason = statuses(environment).train;
    expect(reason).toContain("/usr/bin/python3: no module 'torch'");
    expect(reason).toContain('python3: not found');
    expect(reason).toContain('apt-get install python3-torch');
  });

  it('runs train with the PyTorch that works and notes the one left out', () => {
    const environment = everything();
    environment.torch[1] = { python: 'python3', error: "no module 'torch'" };
    const plan = planPerf(['train'], environment);
    expect(plan.benchmarks[0]).toEqual({
      benchmark: 'train',
      status: 'run',
      notes: ["left out python3: no module 'torch'"],
    });
    expect(plan.torchPeers).toHaveLength(1);
  });

  it('skips train without its model config', () => {
    const environment = everything();
    environment.trainConfig = { file: 'nowhere.json', exists: false };
    expect(statuses(environment).train).toBe('no model config nowhere.json (pass --train-config)');
  });

  it('skips llama-cpp without node-llama-cpp, saying how to install it', () => {
    const environment = everything();
    environment.llamaCpp = { ...environment.llamaCpp, version: null };
    const reason = statuses(environment)['llama-cpp'];
    expect(reason).toContain('node-llama-cpp is not installed in /tmp/llamacpp');
    expect(reason).toContain('npm install --no-save node-llama-cpp@3.21.1');
    environment.llamaCpp = { ...environment.llamaCpp, script: null };
    expect(statuses(environment)['llama-cpp']).toContain('is not in this checkout');
  });

  it('skips the retriever benchmarks without the shared data, and hnsw without FAISS', () => {
    const noData = everything();
    noData.data = { dir: '/nowhere', corpus: false };
    const reasons = statuses(noData);
    for (const id of ['index', 'hnsw', 'server'] as const)
      expect(reasons[id]).toContain('no corpus.jsonl in /nowhere');
    expect(reasons.train).toBe('run');

    const noFaiss = everything();
    noFaiss.faiss = { python: '/usr/bin/python3', error: "no module 'faiss'" };
    const faissReasons = statuses(noFaiss);
    expect(faissReasons.hnsw).toContain("FAISS peer missing (/usr/bin/python3: no module 'faiss')");
    expect(faissReasons.server).toBe('run');
  });

  it('does not build an index when one is given', () => {
    const environment = everything();
    environment.index = '/tmp/idx';
    const reasons = statuses(environment);
    expect(reasons.index).toBe('--index given: the benchmarks use /tmp/idx');
    expect([reasons.hnsw, reasons.server]).toEqual(['run', 'run']);
  });
});

describe('distinctTorchPeers', () => {
  it('counts two names for one interpreter once', () => {
    const { peers, unavailable } = distinctTorchPeers([
      { python: '/usr/bin/python3', executable: '/usr/bin/python3.11', version: '1.13.0a0' },
      { python: 'python3', executable: '/usr/bin/python3.11', version: '1.13.0a0' },
      { python: 'python3.12', error: 'not found' },
    ]);
    expect(peers).toEqual([
      { python: '/usr/bin/python3', executable: '/usr/bin/python3.11', version: '1.13.0a0' },
    ]);
    expect(unavailable).toEqual(['python3.12: not found']);
  });
});

describe('probePythonModule', () => {
  /** A stand-in interpreter: a shell script that answers like python would. */
  function fakePython(body: string): string {
    const file = join(mkdtempSync(join(tmpdir(), 'sr1-fake-python-')), 'python');
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  }

  it('reads the version and resolves the executable', async () => {
    const python = fakePython(`echo '{"executable": "/bin/sh", "version": "1.7.3"}'`);
    const probe = await probePythonModule(python, 'faiss');
    expect(probe.version).toBe('1.7.3');
    expect(probe.executable).toMatch(/sh$/);
    expect(probe.error).toBeUndefined();
  });

  it('reports a missing module, a missing interpreter and other failures', async () => {
    const noModule = fakePython(`echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`);
    expect(await probePythonModule(noModule, 'torch')).toEqual({
      python: noModule,
      error: "no module 'torch'",
    });
    expect(await probePythonModule('/nonexistent/python3', 'torch')).toEqual({
      python: '/nonexistent/python3',
      error: 'not found',
    });
    const broken = fakePython(
      `echo 'ImportError: libopenblas.so.0: cannot open shared object file' >&2; exit 1`,
    );
    expect((await probePythonModule(broken, 'torch')).error).toBe(
      'ImportError: libopenblas.so.0: cannot open shared object file',
    );
  });
});
