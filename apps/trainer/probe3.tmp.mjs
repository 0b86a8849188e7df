import { loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { evaluate, summarize, materializeWorld, engineGenerator, promptOptions, TOY_TEMPLATE } from './dist/index.js';
const dir = process.argv[2];
const world = await materializeWorld('/tmp/probe-eval-world', { seed: 303, people: 200, questionsPerType: 10 });
const model = await loadModelFolder(dir); const tok = await loadTokenizer(dir);
const runner = await OrtDecoderRunner.create(model.config, model.weights);
const retriever = await InProcessRetriever.open(world.index);
const { generator } = engineGenerator(runner, tok);
const qs = world.questionList.map(q => ({ id: q.id, question: q.question, golden_answers: q.golden_answers, type: q.type }));
for (const method of ['direct', 'rag', 'agent']) {
  const t = performance.now();
  const recs = await evaluate(method, qs, { generator, retriever, tokenizer: tok, rollout: { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3 }, prompt: promptOptions({ template: TOY_TEMPLATE, chatTemplate: false }) });
  const s = summarize(method, recs);
  console.log(method, ((performance.now()-t)/1000).toFixed(1)+'s', 'EM', s.exactMatch.toFixed(3), 'search/q', s.searchesPerQuestion.toFixed(2), JSON.stringify(Object.fromEntries(Object.entries(s.byType).map(([k,v])=>[k, v.exactMatch.toFixed(2)]))));
  if (method !== 'direct') for (const r of recs.filter(r => method === 'rag' || r.searches > 0).slice(0, 3)) console.log('--- Q:', qs.find(q=>q.id===r.id).question, 'GOLD', r.id, qs.find(q=>q.id===r.id).golden_answers, '\n', r.trajectory.text.slice(0, 700));
}
