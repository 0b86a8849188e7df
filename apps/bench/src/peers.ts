// Runs the Python peers (PyTorch) that sr1 is checked and measured against. They are optional:
// the commands that use them say how to install them when they are missing.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sr1Error } from '@sr1/core';
import { PeerUnavailableError } from './errors.js';

const run = promisify(execFile);

/** Debian's python3 with python3-torch (the brief's peer); override with SR1_TORCH_PYTHON. */
export const TORCH_PYTHON = process.env.SR1_TORCH_PYTHON ?? '/usr/bin/python3';

export const PEER_DIR = fileURLToPath(new URL('../peers/', import.meta.url));

/**
 * Runs a peer script with `python` (a path, or a name looked up on PATH), returning its last stdout
 * line parsed as JSON.
 */
export async function runTorchPeer(
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
  python: string = TORCH_PYTHON,
): Promise<Record<string, unknown>> {
  if (python.includes('/') && !existsSync(python)) {
    throw new PeerUnavailableError(
      'PyTorch',
      `no ${python}; apt-get install python3-torch libopenblas0-pthread`,
    );
  }
  try {
    const { stdout } = await run(python, [`${PEER_DIR}${script}`, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    const last = stdout.trim().split('\n').at(-1) ?? '{}';
    return JSON.parse(last) as Record<string, unknown>;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new PeerUnavailableError('PyTorch', `no ${python} on PATH`, { cause: error });
    }
    if (stderr.includes("No module named 'torch'")) {
      throw new PeerUnavailableError('PyTorch', 'apt-get install python3-torch libopenblas0-pthread', {
        cause: error,
      });
    }
    throw new Sr1Error(
      'peer_failed',
      `${script} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      { cause: error },
    );
  }
}
