import { describe, expect, it } from 'vitest';
import {
  type CliProgram,
  CliUsageError,
  describeError,
  formatCommandHelp,
  HelpRequested,
  isMainModule,
  parseCommand,
  runCli,
} from './cli.js';
import { InvalidInputError } from './errors.js';

const spec = {
  name: 'tool index',
  summary: 'build an index',
  flags: {
    corpus: { type: 'string', required: true, description: 'corpus JSONL', placeholder: 'FILE' },
    topk: { type: 'integer', default: 3, min: 1, max: 100, description: 'passages per query' },
    scale: { type: 'number', description: 'a factor' },
    kind: { type: 'choice', choices: ['bm25', 'dense'], default: 'bm25', description: 'index kind' },
    stop: { type: 'string', multiple: true, description: 'stop string' },
    force: { type: 'boolean', description: 'overwrite' },
  },
} as const;

function collect() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

describe('parseCommand', () => {
  it('parses typed values with defaults', () => {
    const { values } = parseCommand(spec, [
      '--corpus',
      'a.jsonl',
      '--topk',
      '7',
      '--stop',
      'x',
      '--stop',
      'y',
    ]);
    expect(values).toEqual({
      corpus: 'a.jsonl',
      topk: 7,
      scale: undefined,
      kind: 'bm25',
      stop: ['x', 'y'],
      force: false,
    });
  });

  it('names the flag of every mistake', () => {
    const cases: [string[], string][] = [
      [[], '--corpus'],
      [['--corpus', 'a', '--topk', '0'], '--topk'],
      [['--corpus', 'a', '--topk', '2.5'], '--topk'],
      [['--corpus', 'a', '--topk', '1000'], '--topk'],
      [['--corpus', 'a', '--scale', 'abc'], '--scale'],
      [['--corpus', 'a', '--kind', 'sparse'], '--kind'],
      [['--corpus', 'a', '--nope'], '--nope'],
    ];
    for (const [args, flag] of cases) {
      const error = (() => {
        try {
          parseCommand(spec, args);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, args.join(' ')).toBeInstanceOf(CliUsageError);
      expect((error as CliUsageError).flag).toBe(flag);
      expect((error as CliUsageError).message).toContain(flag);
    }
  });

  it('rejects stray positionals unless declared', () => {
    expect(() => parseCommand(spec, ['--corpus', 'a', 'extra'])).toThrow(/unexpected argument 'extra'/);
    const withPositionals = { ...spec, positionals: { name: 'QUESTION...', min: 1 } };
    expect(parseCommand(withPositionals, ['--corpus', 'a', 'q1', 'q2']).positionals).toEqual(['q1', 'q2']);
    expect(() => parseCommand(withPositionals, ['--corpus', 'a'])).toThrow(/QUESTION/);
  });

  it('treats --help and -h anywhere as a help request listing every flag', () => {
    expect(() => parseCommand(spec, ['--topk', 'bad', '-h'])).toThrow(HelpRequested);
    const help = formatCommandHelp(spec);
    for (const flag of ['--corpus FILE', '--topk N', '--kind bm25|dense', '--force', '--help']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('(default 3)');
  });
});

describe('runCli', () => {
  const program: CliProgram = {
    name: 'tool',
    summary: 'a test program',
    commands: {
      index: {
        summary: 'build an index',
        run: (args, io) => {
          const { values } = parseCommand(spec, args);
          io.stdout(`indexed ${values.corpus}\n`);
        },
      },
      fail: {
        summary: 'fails',
        run: () => {
          throw Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8000'), {
            code: 'EADDRINUSE',
            address: '127.0.0.1',
            port: 8000,
          });
        },
      },
      crash: {
        summary: 'crashes',
        run: () => {
          throw new TypeError('x is undefined\n    at deep (lib.js:1:1)');
        },
      },
    },
  };

  it('runs a command, and prints help with exit 0 at both levels', async () => {
    const ok = collect();
    expect(await runCli(program, ['index', '--corpus', 'c.jsonl'], ok.io)).toBe(0);
    expect(ok.out.join('')).toBe('indexed c.jsonl\n');
    for (const argv of [['--help'], ['-h'], ['index', '--help'], ['index', '-h']]) {
      const help = collect();
      expect(await runCli(program, argv, help.io), argv.join(' ')).toBe(0);
      expect(help.out.join('')).toMatch(/usage: tool/);
    }
  });

  it('turns every error into one line, exit 2 for bad input and 1 for internal errors', async () => {
    const usage = collect();
    expect(await runCli(program, ['index', '--topk', 'x', '--corpus', 'c'], usage.io)).toBe(2);
    expect(usage.err.join('')).toMatch(/^tool index: flag --topk: expected an integer, got 'x'\n$/);
    const unknown = collect();
    expect(await runCli(program, ['nope'], unknown.io)).toBe(2);
    expect(unknown.err.join('')).toContain("unknown command 'nope'. Supported: [index, fail, crash]");
    const port = collect();
    expect(await runCli(program, ['fail'], port.io)).toBe(2);
    expect(port.err.join('')).toBe('tool fail: EADDRINUSE: address already in use 127.0.0.1:8000\n');
    const crash = collect();
    expect(await runCli(program, ['crash'], crash.io)).toBe(1);
    expect(crash.err.join('').split('\n').filter(Boolean)).toHaveLength(1);
    expect(crash.err.join('')).toContain('internal error: x is undefined');
  });

  it('describes typed input errors by their message', () => {
    expect(describeError(new InvalidInputError({ file: 'a.json', field: 'lr', reason: 'bad' }))).toBe(
      "a.json: field 'lr': bad",
    );
  });
});

describe('isMainModule', () => {
  it('is false for a module that is not the entry point', () => {
    expect(isMainModule(import.meta.url)).toBe(false);
  });
});
