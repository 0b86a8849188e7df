#!/usr/bin/env node
// The consumer check (run by .ci/run after the tests): packs every workspace package, installs the
// tarballs into fresh folders outside the repository (npm registry only), type-checks a strict
// TypeScript consumer (`module: nodenext`) that imports every entry point, runs each package
// README's `## Example`, runs the four CLIs through npx, and checks that the light packages
// (core, reward, rl, rollout, BM25 retriever) install small, with no native package, and that a
// missing optional package gives a MissingDependencyError naming it.
//
//   node scripts/check-consumer.mjs              the check (exit 1 on any failure)
//   node scripts/check-consumer.mjs --footprint  instead installs each package alone and prints the
//                                                install-size table of docs/install.md
// SR1_KEEP_CONSUMER=1 keeps the temporary folders (their path is printed).

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const footprint = process.argv.includes('--footprint');
const work = mkdtempSync(join(tmpdir(), 'sr1-consumer-'));
const tarballs = join(work, 'tarballs');
const LIGHT_LIMIT_MB = 20; // measured 11.9 MB on 2026-12-05 (61 MB before ingest and MCP became optional peers, docs/install.md)
// The optional peers at the versions the workspace tests (onnxruntime-node's postinstall would
// fetch CUDA from NuGet on Linux x64: ONNXRUNTIME_NODE_INSTALL=skip keeps the install offline).
// The heavy optional peers, measured one by one with --footprint.
const PEERS = ['onnxruntime-node@1.30.0', 'hnswlib-node@3.0.0', '@huggingface/transformers@4.3.1'];
const HEAVY = ['onnxruntime-node', 'onnxruntime-web', 'hnswlib-node', '@huggingface/transformers', 'sharp'];
const BINS = {
  'sr1-retriever': ['--help'],
  'sr1-model': ['--help'],
  'sr1-train': ['--help'],
  'sr1-bench': ['--help'],
};
const env = {
  ...process.env,
  ONNXRUNTIME_NODE_INSTALL: 'skip',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

let failures = 0;
let passes = 0;
const started = Date.now();

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? repo,
    env: options.env ?? env,
    encoding: 'utf8',
    timeout: (options.timeoutSeconds ?? 600) * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    const tail = output.trim().split('\n').slice(-15).join('\n');
    const how = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    throw new Error(`${command} ${args.join(' ')} (in ${options.cwd ?? repo}): ${how}\n${tail}`);
  }
  return output;
}

function check(name, body) {
  if (footprint && !name.startsWith('footprint') && !FOOTPRINT_STEPS.has(name)) return;
  const start = Date.now();
  const took = () => `${Math.round((Date.now() - start) / 1000)} s`;
  try {
    const detail = body();
    passes++;
    console.log(`consumer: ok   ${name} (${detail ? `${detail}; ` : ''}${took()})`);
  } catch (error) {
    failures++;
    console.log(
      `consumer: FAIL ${name} (${took()}): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function workspaces() {
  const list = [];
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(repo, parent)).sort()) {
      const file = join(repo, parent, name, 'package.json');
      if (existsSync(file))
        list.push({ dir: join(repo, parent, name), json: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return list;
}

function sizeMb(dir) {
  const out = run('du', ['-sk', dir]);
  return Number(out.split(/\s/)[0]) / 1024;
}

function newConsumer(name) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, private: true, type: 'module' }, null, 2)}\n`,
  );
  return dir;
}

/** The tarballs of `names` and of every internal package they depend on. */
function closure(names, byName) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of Object.keys(byName.get(name).json.dependencies ?? {})) if (byName.has(dep)) visit(dep);
  };
  for (const name of names) visit(name);
  return [...seen].map((name) => join(tarballs, byName.get(name).tarball));
}

/** The first ```ts block under `## Example` in a README, or null. */
function readmeExample(file) {
  const text = readFileSync(file, 'utf8');
  const match = /^## Example\n[\s\S]*?^```ts\n([\s\S]*?)^```/m.exec(text);
  return match ? match[1] : null;
}

// --footprint measures sizes only: the build, the packing, then one install per package.
const FOOTPRINT_STEPS = new Set(['build every workspace (turbo, cached)', 'npm pack every workspace']);
const packages = workspaces();
const byName = new Map(packages.map((pkg) => [pkg.json.name, pkg]));
const libraries = packages.filter((pkg) => pkg.json.private !== true);
// Every optional peer any package declares, at the version its workspace tests with (devDependencies).
const ALL_PEERS = [
  ...new Set(
    libraries.flatMap(({ json }) =>
      Object.keys(json.peerDependencies ?? {}).map(
        (name) => `${name}@${json.devDependencies?.[name] ?? json.peerDependencies[name]}`,
      ),
    ),
  ),
];

check('build every workspace (turbo, cached)', () => {
  run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { timeoutSeconds: 900 });
});

check('package.json metadata of every package', () => {
  const problems = [];
  for (const { json } of packages) {
    const where = json.name;
    if (json.license !== 'Apache-2.0') problems.push(`${where}: license`);
    if (json.engines?.node !== '>=20.10') problems.push(`${where}: engines.node`);
    if (typeof json.repository?.url !== 'string') problems.push(`${where}: repository`);
    if (typeof json.types !== 'string') problems.push(`${where}: types`);
    for (const [path, entry] of Object.entries(json.exports ?? {})) {
      if (Object.keys(entry)[0] !== 'types')
        problems.push(`${where}: exports['${path}'] must list types first`);
    }
    for (const [dep, range] of Object.entries({ ...json.dependencies, ...json.devDependencies })) {
      const target = byName.get(dep);
      if (target && range !== `^${target.json.version}`)
        problems.push(`${where}: ${dep} is '${range}', expected '^${target.json.version}'`);
    }
    for (const peer of Object.keys(json.peerDependencies ?? {})) {
      if (json.peerDependenciesMeta?.[peer]?.optional !== true)
        problems.push(`${where}: peer ${peer} not optional`);
    }
    if (json.private !== true && json.publishConfig?.access !== 'public')
      problems.push(`${where}: publishConfig`);
  }
  assert(problems.length === 0, problems.join('; '));
  return `${packages.length} packages`;
});

check('npm pack every workspace', () => {
  mkdirSync(tarballs, { recursive: true });
  const out = run('npm', ['pack', '--workspaces', '--json', '--pack-destination', tarballs]);
  const packed = JSON.parse(out.slice(out.indexOf('[')));
  const problems = [];
  for (const entry of packed) {
    const pkg = byName.get(entry.name);
    pkg.tarball = entry.filename;
    if (!existsSync(join(tarballs, pkg.tarball))) problems.push(`${entry.name}: no ${pkg.tarball}`);
    const files = new Set(entry.files.map((file) => file.path));
    const wanted = [
      'LICENSE',
      'README.md',
      'package.json',
      pkg.json.main?.replace(/^\.\//, ''),
      pkg.json.types?.replace(/^\.\//, ''),
    ];
    for (const bin of Object.values(pkg.json.bin ?? {})) wanted.push(bin.replace(/^\.\//, ''));
    for (const file of wanted) if (file && !files.has(file)) problems.push(`${entry.name} lacks ${file}`);
  }
  assert(packed.length === packages.length, `packed ${packed.length} of ${packages.length}`);
  assert(problems.length === 0, problems.join('; '));
  return `${packed.length} tarballs`;
});

// A light consumer: the packages that must install small, without native code or optional peers.
const light = newConsumer('light');
check('light install: core, reward, rl, rollout, retriever, model, train (no optional peers)', () => {
  const names = [
    '@sr1/core',
    '@sr1/reward',
    '@sr1/rl',
    '@sr1/rollout',
    '@sr1/retriever',
    '@sr1/model',
    '@sr1/train',
  ];
  run('npm', ['install', ...closure(names, byName)], { cwd: light, timeoutSeconds: 600 });
  const present = HEAVY.filter((name) => existsSync(join(light, 'node_modules', name)));
  assert(present.length === 0, `heavy packages installed: ${present.join(', ')}`);
  const size = sizeMb(join(light, 'node_modules'));
  assert(size < LIGHT_LIMIT_MB, `node_modules is ${size.toFixed(1)} MB (limit ${LIGHT_LIMIT_MB})`);
  return `${size.toFixed(1)} MB, no native package`;
});

check('light consumer: BM25 works, HNSW says which package to install', () => {
  writeFileSync(
    join(light, 'probe.mjs'),
    `import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndex, createMcpServer, HnswIndex, InProcessRetriever, parseDocument } from '@sr1/retriever';
const dir = mkdtempSync(join(tmpdir(), 'sr1-light-'));
writeFileSync(join(dir, 'c.jsonl'), ['"Paris"\\nParis is in France.', '"Rome"\\nRome is in Italy.'].map((contents, id) => JSON.stringify({ id: String(id), contents })).join('\\n'));
await buildIndex({ corpus: join(dir, 'c.jsonl'), out: join(dir, 'idx'), kind: 'bm25' });
const [hits] = await (await InProcessRetriever.open(join(dir, 'idx'))).search(['italy'], 1);
if (hits[0].title !== 'Rome') throw new Error('BM25 found ' + hits[0].title);
try { HnswIndex.create(4, 10); throw new Error('HNSW worked without hnswlib-node'); }
catch (error) { if (error.code !== 'missing_dependency' || error.packageName !== 'hnswlib-node') throw error; console.log(error.message); }
for (const [what, use, name] of [
  ['ingest', () => parseDocument('a.md', Buffer.from('# A'), 'markdown'), 'mdast-util-from-markdown'],
  ['mcp', async () => createMcpServer(await InProcessRetriever.open(join(dir, 'idx'))), '@modelcontextprotocol/sdk'],
]) {
  try { await use(); throw new Error(what + ' worked without ' + name); }
  catch (error) { if (error.code !== 'missing_dependency' || error.packageName !== name) throw error; console.log(error.message); }
}
`,
  );
  return run('node', ['probe.mjs'], { cwd: light }).trim();
});

check(
  'light consumer: a model loads and runs on the reference engine, the ort engine names onnxruntime-node',
  () => {
    writeFileSync(
      join(light, 'probe-model.mjs'),
      `import { createRunner, generate, loadModelFolder, loadTokenizer } from '@sr1/model';
import { tinyModelFolder } from '@sr1/model/testing';
const dir = await tinyModelFolder(1);
const model = await loadModelFolder(dir);
const tokenizer = await loadTokenizer(dir);
try { await createRunner(model); throw new Error('the ort engine ran without onnxruntime-node'); }
catch (error) { if (error.code !== 'missing_dependency' || error.packageName !== 'onnxruntime-node') throw error; console.log(error.message); }
const runner = await createRunner(model, { engine: 'reference' });
const [sequence] = await generate(runner, tokenizer, ['Paris is'], { maxNewTokens: 2, temperature: 0 });
if (sequence.tokenIds.length !== 2) throw new Error('generated ' + sequence.tokenIds.length + ' tokens');
`,
    );
    return run('node', ['probe-model.mjs'], { cwd: light }).trim();
  },
);

// The full consumer: every tarball, the optional peers, and TypeScript.
const full = newConsumer('full');
check('full install: every tarball + optional peers + typescript', () => {
  const all = packages.map((pkg) => join(tarballs, pkg.tarball));
  run('npm', ['install', ...all, ...ALL_PEERS, 'typescript@5.9.3', '@types/node@20'], {
    cwd: full,
    timeoutSeconds: 900,
  });
  return `${sizeMb(join(full, 'node_modules')).toFixed(0)} MB`;
});

const examples = [];
check('strict TypeScript consumer (nodenext) imports every entry point and README example', () => {
  mkdirSync(join(full, 'src'), { recursive: true });
  const imports = [];
  let index = 0;
  for (const { json } of packages) {
    for (const path of Object.keys(json.exports ?? { '.': {} })) {
      const specifier = path === '.' ? json.name : `${json.name}/${path.replace(/^\.\//, '')}`;
      imports.push(
        `import * as m${index} from '${specifier}';\nconsole.log('${specifier}', Object.keys(m${index}).length);`,
      );
      index++;
    }
  }
  writeFileSync(join(full, 'src', 'imports.mts'), `${imports.join('\n')}\n`);
  const missing = [];
  for (const { json } of libraries) {
    const readme = join(full, 'node_modules', json.name, 'README.md');
    const code = existsSync(readme) ? readmeExample(readme) : null;
    if (code === null) {
      missing.push(json.name);
      continue;
    }
    const file = `example-${json.name.split('/').pop()}`;
    writeFileSync(join(full, 'src', `${file}.mts`), code);
    examples.push({ name: json.name, file });
  }
  writeFileSync(
    join(full, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          types: ['node'],
          outDir: 'out',
          rootDir: 'src',
        },
        include: ['src/*.mts'],
      },
      null,
      2,
    )}\n`,
  );
  run('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: full });
  assert(missing.length === 0, `README without a \`## Example\` ts block: ${missing.join(', ')}`);
  return `${index} entry points, ${examples.length} examples`;
});

check('every entry point loads', () => {
  run('node', ['out/imports.mjs'], { cwd: full });
});

for (const { name, file } of examples) {
  check(`README example of ${name} runs`, () => {
    const out = run('node', [`out/${file}.mjs`], { cwd: full, timeoutSeconds: 180 }).trim();
    return out.split('\n')[0]?.slice(0, 80);
  });
}

for (const [bin, args] of Object.entries(BINS)) {
  check(`npx ${bin} ${args.join(' ')}`, () => {
    const out = run('npx', ['--no-install', bin, ...args], { cwd: full }).trim();
    assert(out.length > 0, 'no output');
    return out.split('\n')[0]?.slice(0, 80);
  });
}

if (footprint) {
  const rows = [];
  for (const { json } of libraries) {
    check(`footprint of ${json.name}`, () => {
      const dir = newConsumer(`footprint-${json.name.split('/').pop()}`);
      run('npm', ['install', ...closure([json.name], byName)], { cwd: dir, timeoutSeconds: 900 });
      const size = sizeMb(join(dir, 'node_modules'));
      const heavy = HEAVY.filter((name) => existsSync(join(dir, 'node_modules', name)));
      const peers = Object.keys(json.peerDependencies ?? {});
      rows.push(
        `| \`${json.name}\` | ${size.toFixed(1)} MB | ${heavy.join(', ') || 'none'} | ${peers.join(', ') || '-'} |`,
      );
      rmSync(dir, { recursive: true, force: true });
      return `${size.toFixed(1)} MB`;
    });
  }
  console.log(
    '\n| package | `npm install` (with its @sr1 deps) | native/heavy packages pulled in | optional peers |',
  );
  console.log('|---|---:|---|---|');
  for (const row of rows) console.log(row);
  for (const peer of PEERS) {
    check(`footprint of ${peer}`, () => {
      const dir = newConsumer(`peer-${peer.replace(/[@/]/g, '_')}`);
      run('npm', ['install', peer], { cwd: dir, timeoutSeconds: 900 });
      const size = sizeMb(join(dir, 'node_modules'));
      rmSync(dir, { recursive: true, force: true });
      return `${size.toFixed(1)} MB`;
    });
  }
}

const seconds = Math.round((Date.now() - started) / 1000);
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a debugging switch of this script, not a turbo task input
if (process.env.SR1_KEEP_CONSUMER === '1') console.log(`consumer: folders kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`consumer check: ${passes} passed, ${failures} failed in ${seconds} s`);
process.exit(failures === 0 ? 0 : 1);
