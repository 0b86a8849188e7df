#!/usr/bin/env node
// sr1-train: the trainer's command line. The RL trainer (issue 7) and SFT (issue 5) are not built
// yet; `demo` says so plainly instead of pretending.

const command = process.argv[2];
if (command === 'demo') {
  process.stdout.write(
    [
      'sr1 demo: the packages are built.',
      'The Search-R1 RL trainer and its toy world are not implemented yet (see docs/architecture.md',
      'for what exists today). Nothing was trained; no numbers are reported.',
      '',
    ].join('\n'),
  );
} else {
  process.stderr.write(`sr1-train: unknown command '${command ?? ''}'. Supported: [demo]\n`);
  process.exitCode = 2;
}
