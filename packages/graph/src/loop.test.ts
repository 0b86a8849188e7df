// ONNX Loop built with Graph.loop, run by onnxruntime-node on CPU and compared with TypeScript loops.

import { describe, expect, it } from 'vitest';
import { gradients } from './autodiff.js';
import { GradientError } from './errors.js';
import { Graph } from './graph.js';
import { decodeModel, serializeGraph } from './onnx-model.js';
import { createSession } from './session.js';

describe('Graph.loop', () => {
  it('runs h ← tanh(h·W) with W an outer-scope initializer, scanning every h', async () => {
    const n = 4;
    const steps = 5;
    const w = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i + 1) * 0.9);
    const h0 = Float32Array.from([0.5, -0.25, 1, 0.1]);
    const g = new Graph('recurrent');
    const weight = g.constant({ dtype: 'float32', shape: [n, n], data: w }, 'W');
    const { carried, scans } = g.loop({
      maxTrips: g.input('trips', 'int64', []),
      condition: null,
      carried: [g.input('h0', 'float32', [1, n])],
      body: (body, inputs) => {
        const h = body.tanh(body.matmul(inputs.carried[0]!, weight));
        return { condition: inputs.condition, carried: [h], scans: [h] };
      },
    });
    expect(carried[0]!.shape).toEqual([1, n]);
    expect(scans[0]!.shape.length).toBe(3);
    g.output(carried[0]!, 'h');
    g.output(scans[0]!, 'history');
    const session = await createSession(g, { threads: 1 });
    const out = await session.run({
      trips: { dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(steps)]) },
      h0: { dtype: 'float32', shape: [1, n], data: h0 },
    });
    await session.release();
    const history: number[][] = [];
    let h = Array.from(h0);
    for (let s = 0; s < steps; s++) {
      h = Array.from({ length: n }, (_, j) => Math.tanh(h.reduce((acc, v, k) => acc + v * w[k * n + j]!, 0)));
      history.push(h);
    }
    expect(out.history!.shape).toEqual([steps, 1, n]);
    const got = Array.from(out.history!.data as Float32Array);
    got.forEach((v, i) => {
      expect(v).toBeCloseTo(history[Math.floor(i / n)]![i % n]!, 5);
    });
    Array.from(out.h!.data as Float32Array).forEach((v, j) => {
      expect(v).toBeCloseTo(h[j]!, 5);
    });
  });

  it('stops early when the body condition turns false (a cumulative sum up to a limit)', async () => {
    const g = new Graph('cumsum');
    const limit = g.input('limit', 'float32', []);
    const { carried, scans } = g.loop({
      maxTrips: g.constant({ dtype: 'int64', shape: [], data: BigInt64Array.from([100n]) }),
      condition: g.constant({ dtype: 'bool', shape: [], data: Uint8Array.from([1]) }),
      carried: [g.scalar(0, 'float32')],
      body: (body, inputs) => {
        const step = body.cast(body.add(inputs.iteration, body.scalar(1, 'int64')), 'float32');
        const sum = body.add(inputs.carried[0]!, step);
        return { condition: body.less(sum, limit), carried: [sum], scans: [sum] };
      },
    });
    g.output(carried[0]!, 'sum');
    g.output(scans[0]!, 'sums');
    const session = await createSession(g, { threads: 1 });
    const out = await session.run({ limit: { dtype: 'float32', shape: [], data: Float32Array.from([12]) } });
    await session.release();
    // 1, 3, 6, 10, 15: the condition is checked after each iteration, so 15 (≥ 12) is the last
    expect(Array.from(out.sums!.data as Float32Array)).toEqual([1, 3, 6, 10, 15]);
    expect(Array.from(out.sum!.data as Float32Array)).toEqual([15]);
  });

  it('keeps outer values the body reads, writes the body as a GraphProto attribute', () => {
    const g = new Graph('outer');
    const scale = g.input('scale', 'float32', [2]);
    const { carried } = g.loop({
      maxTrips: g.input('trips', 'int64', []),
      condition: null,
      carried: [g.input('x', 'float32', [2])],
      body: (body, inputs) => ({
        condition: inputs.condition,
        carried: [body.mul(inputs.carried[0]!, scale)],
      }),
    });
    g.output(carried[0]!, 'y');
    const model = decodeModel(serializeGraph(g)) as {
      graph: {
        input: { name: string }[];
        node: { opType: string; attribute: { name: string; type: number }[] }[];
      };
    };
    expect(model.graph.input.map((i) => i.name)).toContain('scale'); // used only inside the body
    const loop = model.graph.node.find((n) => n.opType === 'Loop')!;
    expect(loop.attribute).toEqual([expect.objectContaining({ name: 'body', type: 5 })]);
  });

  it('rejects a body whose carried value changes dtype, and has no gradient', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [2]);
    expect(() =>
      g.loop({
        maxTrips: null,
        condition: null,
        carried: [x],
        body: (body, inputs) => ({
          condition: inputs.condition,
          carried: [body.cast(inputs.carried[0]!, 'int64')],
        }),
      }),
    ).toThrow(/carried value 0/);
    const { carried } = g.loop({
      maxTrips: g.input('trips', 'int64', []),
      condition: null,
      carried: [x],
      body: (body, inputs) => ({ condition: inputs.condition, carried: [body.neg(inputs.carried[0]!)] }),
    });
    const loss = g.reduceSum(carried[0]!, [0], false);
    expect(() => gradients(g, { loss }, [x])).toThrow(GradientError);
  });

  it('samples by Gumbel-max: seeded per session, fresh draws per run; argMax picks the largest', async () => {
    const build = () => {
      const g = new Graph('gumbel');
      const logits = g.input('logits', 'float32', [2, 3]);
      g.output(g.argMax(logits, -1), 'greedy');
      const u = g.randomUniformLike(logits, { low: 1e-6, high: 1, seed: 7 });
      const gumbel = g.neg(g.log(g.neg(g.log(u))));
      g.output(g.argMax(g.add(logits, gumbel), 1), 'sampled');
      g.output(u, 'u');
      return g;
    };
    const feeds = {
      logits: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 5, 1, 2, 0, -1]) },
    } as const;
    const first = await createSession(build(), { threads: 1 });
    const a1 = await first.run(feeds);
    const a2 = await first.run(feeds);
    const second = await createSession(build(), { threads: 1 });
    const b1 = await second.run(feeds);
    await first.release();
    await second.release();
    expect(Array.from(a1.greedy!.data as BigInt64Array)).toEqual([1n, 0n]);
    const logits = feeds.logits.data;
    const u = a1.u!.data as Float32Array;
    const expected = [0, 1].map((row) => {
      const scores = [0, 1, 2].map((j) => logits[row * 3 + j]! - Math.log(-Math.log(u[row * 3 + j]!)));
      return BigInt(scores.indexOf(Math.max(...scores)));
    });
    expect(Array.from(a1.sampled!.data as BigInt64Array)).toEqual(expected);
    expect(Array.from(b1.u!.data as Float32Array)).toEqual(Array.from(a1.u!.data as Float32Array));
    expect(Array.from(a2.u!.data as Float32Array)).not.toEqual(Array.from(a1.u!.data as Float32Array));
  });
});
