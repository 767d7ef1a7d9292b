// The command-line parser behind `prefstudio`: commands and their flags are declared once as data
// (commands.ts); parsing, number checks, usage text and `--help` all come from that declaration.
//
// Conventions (TRL / transformers' HfArgumentParser, which the flags' names come from):
//   --learning_rate 1e-6   --learning_rate=1e-6   --learning-rate 1e-6     (dashes = underscores)
//   --use_weighting        --use_weighting true   --use_weighting=false    (bool flags)
//   --loss_type sigmoid,sft   --loss_weights 1,0.5                         (lists: comma-separated)
// Values are checked for their type only (a number is a whole finite number, an int an integer, an
// enum one of its choices); what a value means is the command handler's business. Every mistake is
// a UsageError naming the flag (and, for an unknown flag, the closest valid one); `main.ts` turns
// it into exit code 2.

/** Where a command writes: results on stdout (exactly `text`), progress and warnings on stderr (one line each). */
export interface CliIO {
  stdout(text: string): void;
  log(line: string): void;
}

export type FlagType = 'string' | 'number' | 'int' | 'bool' | 'list' | 'numlist' | 'enum';

/** A parsed value: string (string, enum), number (number, int), boolean, string[] (list), number[] (numlist). */
export type FlagValue = string | number | boolean | string[] | number[];

/** Parsed flags by canonical name; only flags given on the command line or with a table default are present. */
export type Opts = Record<string, FlagValue>;

export interface FlagSpec {
  /** Canonical name, TRL's underscore spelling: learning_rate (accepted as --learning_rate and --learning-rate). */
  name: string;
  type: FlagType;
  /** One or two sentences for --help; a default the handler applies (e.g. a preset's) belongs here. */
  help: string;
  /** Placeholder in usage text, e.g. DIR, FILE, LR (default from the type: N, X, TEXT, A,B, …). */
  metavar?: string;
  /** The allowed values of an enum flag. */
  choices?: readonly string[];
  /**
   * The value of the flag given without one (`--resume` alone, vs `--resume DIR`): the flag then
   * takes the next argument only when that is not a flag. Unset: a value is required.
   */
  bareValue?: FlagValue;
  /** Filled in when the flag is absent (so the handler sees it). Leave unset when "absent" means something (presets). */
  default?: FlagValue;
  required?: boolean;
  /** Heading the flag is listed under in --help (flags without one come first). */
  group?: string;
}

/** Flags of which at most one may be given (exactly one when `required`). */
export interface Exclusion {
  flags: string[];
  required?: boolean;
}

export interface CommandSpec {
  name: string;
  /** One line: what the command does (the command list in `prefstudio --help`). */
  summary: string;
  /** Paragraphs printed after the flags in `--help`. */
  details?: string;
  flags: FlagSpec[];
  exclusive?: Exclusion[];
  run(opts: Opts, io: CliIO): Promise<void>;
}

/** A mistake on the command line (exit code 2). `command` is the command it concerns, if known. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// parsing

/** The canonical form of a flag name as typed: dashes become underscores. */
const canonical = (typed: string): string => typed.replace(/-/g, '_');

/** Levenshtein distance (insert, delete, substitute: 1 each). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** The candidate nearest to `word` by edit distance (first in order on ties), or null if there are none. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT = /^[+-]?\d+$/;

function parseNumber(flag: string, text: string, int: boolean): number {
  const v = Number(text);
  if (int) {
    if (!INT.test(text.trim()) || !Number.isSafeInteger(v)) throw new UsageError(`--${flag} must be an integer, got '${text}'`);
  } else if (!NUMBER.test(text.trim()) || !Number.isFinite(v)) {
    throw new UsageError(`--${flag} must be a number (e.g. 0.1 or 1e-6), got '${text}'`);
  }
  return v;
}

function parseList(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  const empty = items.findIndex((s) => s === '');
  if (empty >= 0) throw new UsageError(`--${flag} is a comma-separated list, and item ${empty + 1} of '${text}' is empty`);
  return items;
}

/** A flag's text value as its type (bool flags never reach here with a value other than true/false). */
function parseValue(spec: FlagSpec, text: string): FlagValue {
  switch (spec.type) {
    case 'string':
      return text;
    case 'number':
    case 'int':
      return parseNumber(spec.name, text, spec.type === 'int');
    case 'bool':
      return text === 'true';
    case 'list':
      return parseList(spec.name, text);
    case 'numlist':
      return parseList(spec.name, text).map((s, i) => {
        if (!NUMBER.test(s) || !Number.isFinite(Number(s))) throw new UsageError(`--${spec.name} is a comma-separated list of numbers, and item ${i + 1} is '${s}'`);
        return Number(s);
      });
    case 'enum': {
      const choices = spec.choices ?? [];
      if (choices.includes(text)) return text;
      throw new UsageError(`--${spec.name} must be one of ${choices.join(', ')}; got '${text}'${suggest(text, choices, '')}`);
    }
  }
}

const suggest = (word: string, candidates: readonly string[], prefix: string): string => {
  const c = closest(word, candidates);
  return c === null ? '' : ` (did you mean ${prefix}${c}?)`;
};

/**
 * Parses a command's arguments (everything after the command name) against its flag table.
 * Returns the options, with table defaults for absent flags, or 'help' for -h / --help.
 */
export function parseFlags(cmd: CommandSpec, args: readonly string[]): Opts | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const byName = new Map(cmd.flags.map((f) => [f.name, f]));
  const opts: Opts = {};
  const fail = (message: string): never => {
    throw new UsageError(message, cmd);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--') || arg === '--') fail(`unexpected argument '${arg}' (flags start with --; quote a value that has spaces)`);
    const eq = arg.indexOf('=');
    const typed = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byName.get(canonical(typed));
    if (!spec) fail(`unknown flag --${typed} for ${cmd.name}${suggest(canonical(typed), [...byName.keys()], '--')}`);
    const name = spec!.name;
    if (name in opts) fail(`--${name} is given twice`);
    let text: string;
    if (eq > 0) text = arg.slice(eq + 1);
    else if (spec!.type === 'bool') {
      // A bare bool flag is true; `--flag true|false` is accepted too.
      const next = args[i + 1];
      text = next === 'true' || next === 'false' ? args[++i] : 'true';
    } else {
      const next = args[i + 1];
      if ((next === undefined || next.startsWith('--')) && spec!.bareValue !== undefined) {
        opts[name] = spec!.bareValue;
        continue;
      }
      if (next === undefined || next.startsWith('--')) fail(`--${name} needs a value (${metavar(spec!)})`);
      text = args[++i];
    }
    if (spec!.type === 'bool' && text !== 'true' && text !== 'false') fail(`--${name} takes no value, or true / false; got '${text}'`);
    try {
      opts[name] = parseValue(spec!, text);
    } catch (e) {
      if (e instanceof UsageError) fail(e.message);
      throw e;
    }
  }
  for (const f of cmd.flags) {
    if (!(f.name in opts) && f.required) fail(`--${f.name} is required (${metavar(f)})`);
  }
  for (const ex of cmd.exclusive ?? []) {
    const given = ex.flags.filter((f) => f in opts);
    const list = ex.flags.map((f) => `--${f}`).join(', ');
    if (given.length > 1) fail(`${given.map((f) => `--${f}`).join(' and ')} cannot be given together (give at most one of ${list})`);
    if (ex.required && given.length === 0) fail(`give one of ${list}`);
  }
  for (const f of cmd.flags) if (!(f.name in opts) && f.default !== undefined) opts[f.name] = f.default;
  return opts;
}

// ---------------------------------------------------------------------------------------------
// usage text

const DEFAULT_METAVAR: Record<FlagType, string> = { string: 'TEXT', number: 'X', int: 'N', bool: '', list: 'A[,B…]', numlist: 'X[,Y…]', enum: '' };

function metavar(f: FlagSpec): string {
  if (f.metavar) return f.metavar;
  if (f.type === 'enum') return (f.choices ?? []).join('|');
  if (f.type === 'bool') return 'true|false';
  return DEFAULT_METAVAR[f.type];
}

/** `--name VALUE` as usage shows it (bool flags bare). */
function flagSynopsis(f: FlagSpec): string {
  return f.type === 'bool' ? `--${f.name}` : f.bareValue !== undefined ? `--${f.name} [${metavar(f)}]` : `--${f.name} ${metavar(f)}`;
}

/** Word-wraps `text` to `width` columns, indenting continuation lines by `indent` spaces. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const WIDTH = 100;

/** The one-line synopsis: `prefstudio train --model DIR --data FILE --out DIR [flags]`. */
export function commandSynopsis(program: string, cmd: CommandSpec): string {
  const inGroup = new Set((cmd.exclusive ?? []).filter((x) => x.required).flatMap((x) => x.flags));
  const required = cmd.flags.filter((f) => f.required && !inGroup.has(f.name)).map(flagSynopsis);
  const groups = (cmd.exclusive ?? []).filter((x) => x.required).map((x) => `(${x.flags.map((n) => flagSynopsis(cmd.flags.find((f) => f.name === n)!)).join(' | ')})`);
  const optional = cmd.flags.some((f) => !f.required && !inGroup.has(f.name)) ? ['[flags]'] : [];
  return [program, cmd.name, ...required, ...groups, ...optional].join(' ');
}

/** `prefstudio <command> --help`: synopsis, summary, every flag by group, exclusions, details. */
export function commandHelp(program: string, cmd: CommandSpec): string {
  const out = [`usage: ${commandSynopsis(program, cmd)}`, '', wrap(cmd.summary, WIDTH, 0)];
  const groups = [...new Set(cmd.flags.map((f) => f.group ?? ''))];
  const col = Math.min(34, Math.max(...cmd.flags.map((f) => flagSynopsis(f).length)) + 4);
  for (const g of groups) {
    out.push('', g ? `${g}:` : 'flags:');
    for (const f of cmd.flags.filter((x) => (x.group ?? '') === g)) {
      const notes = [f.required ? 'required' : '', f.default !== undefined ? `default ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)}` : ''].filter(Boolean);
      const help = `${f.help}${notes.length ? ` (${notes.join('; ')})` : ''}`;
      const left = `  ${flagSynopsis(f)}`;
      out.push(left.length + 2 > col ? `${left}\n${' '.repeat(col)}${wrap(help, WIDTH, col)}` : `${left.padEnd(col)}${wrap(help, WIDTH, col)}`);
    }
  }
  for (const ex of cmd.exclusive ?? []) out.push('', `${ex.required ? 'exactly' : 'at most'} one of: ${ex.flags.map((f) => `--${f}`).join(', ')}`);
  out.push('', 'Flags take their value as --name VALUE or --name=VALUE; --name-with-dashes equals --name_with_dashes.');
  if (cmd.details) out.push('', ...cmd.details.split('\n\n').map((p) => wrap(p, WIDTH, 0)).join('\n\n').split('\n'));
  return `${out.join('\n')}\n`;
}

/** `prefstudio --help`: every command's synopsis and summary. */
export function programHelp(program: string, commands: readonly CommandSpec[], about: string): string {
  const col = Math.max(...commands.map((c) => c.name.length)) + 4;
  return [
    `usage: ${program} <command> [flags]`,
    '',
    wrap(about, WIDTH, 0),
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(col)}${wrap(c.summary, WIDTH, col + 2)}`),
    '',
    `Run \`${program} <command> --help\` for a command's flags.`,
    '',
  ].join('\n');
}

/** The command named by argv[0], 'help' for a help request, or a UsageError naming the closest command. */
export function findCommand(commands: readonly CommandSpec[], argv: readonly string[]): CommandSpec | 'help' {
  const [name] = argv;
  if (name === undefined) throw new UsageError('no command given');
  if (name === '--help' || name === '-h' || name === 'help') return 'help';
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    throw new UsageError(`unknown command '${name}'${suggest(name, commands.map((c) => c.name), '')}`);
  }
  return cmd;
}
