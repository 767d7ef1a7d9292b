// prefstudio — the command line of the same engine the studio runs (Node + Dawn).
//
//   prefstudio logps --model DIR --pairs FILE
//   prefstudio generate --model DIR --prompt TEXT [--max-new-tokens N --temperature T --top-p P --seed S]
//
// Results go to stdout; progress (percent and rate) and errors go to stderr. Errors are the
// engine's typed errors: they name the file/tensor/row and say what to do; the exit code is 1
// (2 for a usage error).

import { EngineError } from '../engine/errors.ts';
import { checkpointWeights, loadGemma2, openCheckpoint, readTokenizerFiles } from '../engine/model/load.ts';
import { sourceFromDirectory } from '../engine/store/kv_node.ts';
import { createNodeEngine } from '../engine/node.ts';
import { logpsCommand } from './logps.ts';
import { generateCommand } from './generate.ts';

const USAGE = `usage:
  prefstudio logps --model DIR --pairs FILE
  prefstudio generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { command: string; flags: Map<string, string> } {
  const [command, ...rest] = argv;
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      if (i + 1 >= rest.length) throw new UsageError(`${a} needs a value`);
      flags.set(a.slice(2), rest[++i]);
    }
  }
  return { command: command ?? '', flags };
}

function need(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const log = (s: string): void => {
    process.stderr.write(`${s}\n`);
  };
  let parsed;
  try {
    parsed = parseArgs(argv);
    if (!['logps', 'generate'].includes(parsed.command)) throw new UsageError(parsed.command ? `unknown command '${parsed.command}'` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError) {
      log(`prefstudio: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  const { command, flags } = parsed;
  try {
    const modelDir = need(flags, 'model');
    const known = command === 'logps' ? ['model', 'pairs'] : ['model', 'prompt', 'max-new-tokens', 'temperature', 'top-p', 'seed'];
    for (const k of flags.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k} for ${command}`);
    const ckpt = await openCheckpoint({ ...(await sourceFromDirectory(modelDir)), name: modelDir });
    for (const w of [...ckpt.cfg.warnings, ...ckpt.report.warnings]) log(`warning: ${w}`);
    const e = await createNodeEngine();
    log(`adapter: ${e.info.description || e.info.device || e.info.architecture} (${e.info.vendor})`);
    let lastLog = 0;
    const { params } = await loadGemma2(e, checkpointWeights(ckpt), {
      onProgress: (p) => {
        // At most a few lines a second, and always the last one.
        if (p.bytesDone < p.bytesTotal && performance.now() - lastLog < 250) return;
        lastLog = performance.now();
        log(`loading weights: ${p.percent.toFixed(0)}% (${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB, ${p.mbPerSec.toFixed(1)} MB/s)`);
      },
    });
    const tokenizer = await readTokenizerFiles(ckpt);
    let out: string;
    if (command === 'logps') {
      out = await logpsCommand(e, ckpt, tokenizer, params, need(flags, 'pairs'), log);
    } else {
      const num = (k: string, def: number): number => {
        const v = flags.get(k);
        if (v === undefined) return def;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new UsageError(`--${k} must be a number, got '${v}'`);
        return n;
      };
      out = await generateCommand(e, ckpt, tokenizer, params, {
        prompt: need(flags, 'prompt'),
        maxNewTokens: num('max-new-tokens', 64),
        temperature: num('temperature', 0),
        topP: num('top-p', 1),
        seed: num('seed', 0),
      }, log);
    }
    process.stdout.write(`${out}\n`);
    e.destroy();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      log(`prefstudio: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof EngineError) {
      log(`prefstudio ${command}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
