// `bench server`: starts `sr1-retriever serve` as a child process on 127.0.0.1 and drives it with
// keep-alive fetch clients at several concurrencies (one question per request, topk 3, scores on,
// as the reference agent asks), then with 512-question batches (one training step's searches).

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile, readQuestions } from './data.js';

/** One concurrency level of the load test. */
export interface ServerLoadRow {
  clients: number;
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Large batched requests (one training step's searches each). */
export interface ServerBatchRow {
  batch: number;
  repeats: number;
  errors: number;
  p50Ms: number;
  maxMs: number;
  queriesPerSecond: number;
}

export interface ServerBenchOptions {
  index: string;
  dataDir: string;
  clients: number[];
  requests: number[];
  batch: number;
  batchRepeats: number;
  method?: string;
}

async function startChild(options: ServerBenchOptions): Promise<{ child: ChildProcess; url: string }> {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const args = [cli, 'serve', '--index', options.index, '--host', '127.0.0.1', '--port', '0'];
  if (options.method !== undefined) args.push('--method', options.method);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /at (http:\/\/[^\s]+)\/retrieve/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${output}`)));
  });
  return { child, url };
}

async function post(url: string, body: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/retrieve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    return response.ok && text.startsWith('{"result":[');
  } catch {
    return false;
  }
}

export interface ServerBenchResult {
  load: ServerLoadRow[];
  batch: ServerBatchRow;
}

/** What `sr1-retriever bench server` runs without flags. */
export const SERVER_BENCH_DEFAULTS: Omit<ServerBenchOptions, 'index' | 'dataDir'> = {
  clients: [1, 16, 64], // one agent alone, then many agents searching at once
  requests: [2000, 5000, 10000], // per concurrency level (the last repeats for extra levels)
  batch: 512, // the paper's training batch: one step's searches in one request
  batchRepeats: 10, // the batch p50 is over these repeats
};

export async function benchServer(options: ServerBenchOptions): Promise<ServerBenchResult> {
  const questions = readQuestions(options.dataDir).map((question) => question.question);
  const { child, url } = await startChild(options);
  try {
    for (let i = 0; i < 200; i++)
      await post(url, JSON.stringify({ queries: [questions[i]], topk: 3, return_scores: true })); // warm-up
    const load: ServerLoadRow[] = [];
    for (let c = 0; c < options.clients.length; c++) {
      const clients = options.clients[c]!;
      const total = options.requests[c] ?? options.requests[options.requests.length - 1]!;
      const latencies: number[] = [];
      let next = 0;
      let errors = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (;;) {
            const i = next++;
            if (i >= total) return;
            const body = JSON.stringify({
              queries: [questions[i % questions.length]],
              topk: 3,
              return_scores: true,
            });
            const start = performance.now();
            const ok = await post(url, body);
            latencies.push(performance.now() - start);
            if (!ok) errors++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      load.push({
        clients,
        requests: total,
        errors,
        seconds,
        requestsPerSecond: total / seconds,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
      });
    }
    const batchLatencies: number[] = [];
    let batchErrors = 0;
    for (let r = 0; r < options.batchRepeats; r++) {
      const offset = (r * options.batch) % questions.length;
      const queries = Array.from(
        { length: options.batch },
        (_, i) => questions[(offset + i) % questions.length],
      );
      const start = performance.now();
      if (!(await post(url, JSON.stringify({ queries, topk: 3, return_scores: true })))) batchErrors++;
      batchLatencies.push(performance.now() - start);
    }
    const p50 = percentile(batchLatencies, 50);
    return {
      load,
      batch: {
        batch: options.batch,
        repeats: options.batchRepeats,
        errors: batchErrors,
        p50Ms: p50,
        maxMs: Math.max(...batchLatencies),
        queriesPerSecond: options.batch / (p50 / 1000),
      },
    };
  } finally {
    child.kill('SIGTERM');
  }
}
