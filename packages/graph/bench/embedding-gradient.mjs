// Measures the two embedding-gradient strategies of @sr1/graph's Gather rule (ScatterND with
// reduction 'add' vs a one-hot MatMul) on ORT CPU. Run after building: node bench/embedding-gradient.mjs
import { createRng } from '@sr1/core';
import { createSession, Graph, gradients } from '../dist/index.js';

const threads = Number(process.env.THREADS ?? 2);
const repeats = 10;
const cases = [
  { vocab: 8192, hidden: 256, tokens: 512 },
  { vocab: 32000, hidden: 512, tokens: 1024 },
];

async function time(strategy, { vocab, hidden, tokens }) {
  const g = new Graph('embedding');
  const table = g.input('table', 'float32', [vocab, hidden]);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const upstream = g.input('upstream', 'float32', ['batch', 'seq', hidden], { differentiable: false });
  const rows = g.gather(table, ids, 0);
  const [grad] = gradients(g, { outputs: [rows], upstream: [upstream] }, [table], {
    embeddingGradient: strategy,
  });
  const session = await createSession(g, { outputs: [grad], threads });
  const rng = createRng(1);
  const feeds = {
    table: { dtype: 'float32', shape: [vocab, hidden], data: new Float32Array(vocab * hidden) },
    ids: {
      dtype: 'int64',
      shape: [1, tokens],
      data: BigInt64Array.from({ length: tokens }, () => BigInt(rng.int(vocab))),
    },
    upstream: {
      dtype: 'float32',
      shape: [1, tokens, hidden],
      data: Float32Array.from({ length: tokens * hidden }, () => rng.normal()),
    },
  };
  await session.run(feeds); // warm-up
  const start = performance.now();
  let last;
  for (let i = 0; i < repeats; i++) last = await session.run(feeds);
  const ms = (performance.now() - start) / repeats;
  let checksum = 0; // both strategies must agree
  for (const v of last[grad.name].data) checksum += Math.abs(v);
  await session.release();
  return { ms, checksum };
}

for (const c of cases) {
  const scatter = await time('scatter', c);
  const onehot = await time('onehot', c);
  console.log(
    `vocab ${c.vocab} hidden ${c.hidden} tokens ${c.tokens} threads ${threads}: scatter ${scatter.ms.toFixed(2)} ms, ` +
      `onehot ${onehot.ms.toFixed(2)} ms, onehot/scatter ${(onehot.ms / scatter.ms).toFixed(1)}x ` +
      `(Σ|grad| ${scatter.checksum.toFixed(3)} / ${onehot.checksum.toFixed(3)})`,
  );
}
