// prefstudio — the command line of the same engine the studio runs (Node + Dawn).
//
//   prefstudio <command> [flags]          commands and flags: commands.ts (`prefstudio --help`)
//   prefstudio <command> --help           one command's flags, generated from the table
//
// Results go to stdout; progress (percent and rate) and errors go to stderr. Errors are the
// engine's typed errors: they name the file/tensor/row and say what to do. Exit codes: 0 done,
// 1 an EngineError (bad input, a failed load, a GPU problem), 2 a usage error (unknown command or
// flag, a value of the wrong type, a missing or conflicting flag).

import { EngineError } from '../engine/errors.ts';
import { commandHelp, commandSynopsis, findCommand, parseFlags, programHelp, UsageError, type CliIO, type CommandSpec } from './args.ts';
import { COMMANDS } from './commands.ts';

const PROGRAM = 'prefstudio';
const ABOUT = 'Preference fine-tuning of Gemma-2 on a WebGPU engine (Node + Dawn): log-probs, generation, tokenization as TRL does it, and DPO / WPO / SimPO / SPPO training.';

const nodeIO: CliIO = {
  stdout: (text) => void process.stdout.write(text),
  log: (line) => void process.stderr.write(`${line}\n`),
};

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], io: CliIO = nodeIO): Promise<number> {
  let cmd: CommandSpec | undefined;
  try {
    const found = findCommand(COMMANDS, argv);
    if (found === 'help') {
      // `prefstudio help train` = `prefstudio train --help`
      const topic = COMMANDS.find((c) => c.name === argv[1]);
      io.stdout(topic ? commandHelp(PROGRAM, topic) : programHelp(PROGRAM, COMMANDS, ABOUT));
      return 0;
    }
    cmd = found;
    const opts = parseFlags(cmd, argv.slice(1));
    if (opts === 'help') {
      io.stdout(commandHelp(PROGRAM, cmd));
      return 0;
    }
    await cmd.run(opts, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      const c = e.command ?? cmd;
      io.log(c ? `${PROGRAM} ${c.name}: ${e.message}\nusage: ${commandSynopsis(PROGRAM, c)}\n(\`${PROGRAM} ${c.name} --help\` lists every flag)` : `${PROGRAM}: ${e.message}\n\n${programHelp(PROGRAM, COMMANDS, ABOUT)}`);
      return 2;
    }
    if (e instanceof EngineError) {
      io.log(`${PROGRAM}${cmd ? ` ${cmd.name}` : ''}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
