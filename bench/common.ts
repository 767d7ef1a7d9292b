// What the benches share: the command line (--json, --quick), where the readable output goes, and
// how an adapter is described in the JSON.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Engine } from '../src/engine/engine.ts';

export interface BenchOptions {
  /** Fewer cases and repeats (keeps `npm run bench -- --quick` to a few minutes on a CPU adapter). */
  quick: boolean;
  /** Readable output (tables, progress): stdout normally, nothing with --json. */
  log: (line: string) => void;
}

/** --json / --quick from process.argv. */
export function benchArgs(argv = process.argv.slice(2)): BenchOptions & { json: boolean } {
  const args = new Set(argv);
  const json = args.has('--json');
  return { json, quick: args.has('--quick'), log: json ? () => {} : (s) => console.log(s) };
}

export interface AdapterJson {
  vendor: string;
  architecture: string;
  description: string;
  isSoftware: boolean;
}

export function adapterJson(e: Engine): AdapterJson {
  return { vendor: e.info.vendor, architecture: e.info.architecture, description: e.info.description, isSoftware: e.info.isSoftware };
}

export function adapterLine(a: AdapterJson): string {
  return `adapter: ${a.description || a.vendor} (${a.vendor}/${a.architecture})${a.isSoftware ? ' [software]' : ''}`;
}

/**
 * Runs `bench` when `moduleUrl` (the bench's import.meta.url) is the script node was started with:
 * --json prints its result as one JSON object; the exit code says whether it ran.
 */
export function runIfMain(moduleUrl: string, bench: (opts: BenchOptions) => Promise<unknown>): void {
  const script = process.argv[1];
  if (script === undefined || moduleUrl !== pathToFileURL(resolve(script)).href) return;
  const opts = benchArgs();
  bench(opts).then(
    (r) => {
      if (opts.json) console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
