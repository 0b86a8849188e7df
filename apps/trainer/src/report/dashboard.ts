// The report served live while a run trains: a small HTTP server on 127.0.0.1 whose page is the
// report itself, polling data.json, which re-reads the run folders' metrics.jsonl on each request.
// `withDashboard` ties the server's life to the run's: it stops when the run ends or fails.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderReport, reportData, scriptJson } from './render.js';
import { loadRuns } from './run-data.js';

export interface DashboardOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Run folders whose metrics the page shows (they may not exist yet). */
  runDirs: string[];
  title: string;
  notes?: string[];
  /** How often the page asks for new data. */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DASHBOARD_POLL_MS = 2000; // a training step takes seconds; faster polling only costs reads

/** Starts the dashboard; rejects with the listen error (EADDRINUSE names the port) if it cannot bind. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const live = { pollMs: options.pollMs ?? DASHBOARD_POLL_MS };
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'only GET\n');
      return;
    }
    const handle = async () => {
      const runs = await loadRuns(options.runDirs, { live: true });
      if (path === '/' || path === '/index.html') {
        send(
          200,
          'text/html; charset=utf-8',
          renderReport({ title: options.title, notes: options.notes ?? [], runs, live }),
        );
      } else if (path === '/favicon.ico') {
        send(204, 'image/x-icon', ''); // browsers ask for it; a 404 would be a console error
      } else if (path === '/data.json') {
        send(200, 'application/json', scriptJson(reportData(runs, live)));
      } else {
        send(404, 'text/plain; charset=utf-8', 'not found: the dashboard serves / and /data.json\n');
      }
    };
    handle().catch((error: unknown) =>
      send(500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the page's keep-alive polls must not hold the run open
      }),
  };
}

/**
 * Runs `run` with a dashboard on `port` (when given) and stops the server when the run settles,
 * whether it finished or failed. `announce` receives the page's address.
 */
export async function withDashboard<T>(
  port: number | undefined,
  options: Omit<DashboardOptions, 'port'>,
  announce: (line: string) => void,
  run: () => Promise<T>,
): Promise<T> {
  if (port === undefined) return run();
  const dashboard = await startDashboard({ ...options, port });
  announce(`dashboard: ${dashboard.url} (live while the run lasts)`);
  try {
    return await run();
  } finally {
    await dashboard.close();
  }
}
