import { parseArgs } from "node:util";
import { ConfigError } from "./config-error.ts";

/** How a given text becomes an option's value, and what a wrong one is told. */
export interface Kind<T> {
  /** Reads a given value; throws ConfigError naming the option as `label`. */
  parse(raw: string, label: string): T;
  /** What a valid value is, as messages put it after "expected": `an integer from 0 to 65535`. */
  expected?: string;
  /** A number's bounds. */
  min?: number;
  max?: number;
  /** The words a choice takes. */
  choices?: readonly string[];
}

/** One row of an option table: its flag, variable, kind, default and help. */
export interface OptionSpec<T> {
  /** The flag, without its dashes; none: the variable only. */
  flag?: string;
  /** The environment variable; none: the flag only. */
  env?: string;
  /** What follows the flag in --help: `N`, `URL`. */
  arg?: string;
  kind: Kind<T>;
  /** The value when neither the flag nor the variable is given (or either is empty). */
  default?: NoInfer<T>;
  /** The default as --help shows it in parentheses; numbers and words show themselves. */
  shown?: string;
  /** The --help text; `\n` continues it on the next line. */
  help: string;
  /** Missing is an error ("Missing LABEL"). */
  required?: boolean;
  /** An empty value is read as a value, not as unset. */
  keepEmpty?: boolean;
  /** The flag may be repeated: the values are read joined with commas. */
  multiple?: boolean;
  /** A flag without a value (`--no-inspect`): given, it reads as true. */
  switch?: boolean;
  /** Names the option in messages instead of the table's rule. */
  label?: string;
  /** Starts a group of options in --help under this heading. */
  group?: string;
}

/** An option whose value, once read, is a `T` (`valueType` is never set: it carries the type). */
export interface Option<T> extends OptionSpec<unknown> {
  readonly valueType?: T;
}

/** Declares an option; with a default, or required, its value is never undefined. */
export function option<T>(spec: OptionSpec<T> & ({ default: NoInfer<T> } | { required: true })): Option<T>;
export function option<T>(spec: OptionSpec<T>): Option<T | undefined>;
export function option<T>(spec: OptionSpec<T>): Option<T | undefined> {
  return spec as Option<T | undefined>;
}

/** A program's options: the one place its flags, variables, defaults, checks and --help come from. */
export interface OptionTable<O extends Record<string, Option<unknown>>> {
  /** The first line of --help. */
  usage: string;
  /** How messages name an option: by its variable (`PORT`) or by its flag (`--uplinks (TUNNEL_UPLINKS)`). */
  naming: "variable" | "flag";
  options: O;
}

type AnyTable = OptionTable<Record<string, Option<unknown>>>;

/** The values of a table's options, read on first use. */
export type Values<O> = { readonly [K in keyof O]: O[K] extends Option<infer T> ? T : never };

/** Flag values as given, by option name. */
export type Flags<O> = { [K in keyof O]?: string };

/** How messages name an option of `table`. */
export function labelOf(table: AnyTable, o: OptionSpec<unknown>): string {
  if (o.label) return o.label;
  if (!o.flag) return o.env!;
  const flag = `--${o.flag}`;
  if (table.naming === "variable" || !o.env) return o.env ?? flag;
  return `${flag} (${o.required ? "or " : ""}${o.env})`;
}

/** Reads one option from its given text (undefined: not given). */
export function readOption<O extends Record<string, Option<unknown>>, K extends keyof O & string>(
  table: OptionTable<O>,
  key: K,
  raw: string | undefined,
): Values<O>[K] {
  const o = table.options[key];
  const label = labelOf(table as unknown as AnyTable, o);
  if (raw === undefined || (raw === "" && !o.keepEmpty)) {
    if (o.required) throw new ConfigError(`Missing ${label}`);
    return o.default as Values<O>[K];
  }
  return o.kind.parse(raw, label) as Values<O>[K];
}

/**
 * The options' values: each from its flag, else its variable, else its
 * default. Each is read (and checked) when first used, so a setting that
 * only matters with another (TUNNEL_PEER_URL with REDIS_URL) is checked only then.
 */
export function readOptions<O extends Record<string, Option<unknown>>>(
  table: OptionTable<O>,
  flags: Flags<O>,
  env: Record<string, string | undefined>,
): Values<O> {
  const values = {} as Values<O>;
  for (const key of Object.keys(table.options) as (keyof O & string)[]) {
    const o = table.options[key];
    let read: { value: unknown } | undefined;
    Object.defineProperty(values, key, {
      enumerable: true,
      get: () => (read ??= { value: readOption(table, key, flags[key] ?? (o.env === undefined ? undefined : env[o.env])) }).value,
    });
  }
  return values;
}

/** parseArgs options for the flags of `keys`. */
function parseArgsOptions(options: Record<string, Option<unknown>>, keys: string[]) {
  const out: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const key of keys) {
    const o = options[key];
    if (o.flag) out[o.flag] = { type: o.switch ? "boolean" : "string", ...(o.multiple ? { multiple: true } : {}) };
  }
  return out;
}

/** The given flags by option name, from parseArgs values. */
function flagValues<O extends Record<string, Option<unknown>>>(options: O, keys: (keyof O & string)[], parsed: Record<string, unknown>): Flags<O> {
  const flags: Flags<O> = {};
  for (const key of keys) {
    const value = options[key].flag === undefined ? undefined : parsed[options[key].flag!];
    if (value === undefined || value === false) continue;
    flags[key] = value === true ? "true" : Array.isArray(value) ? value.join(",") : String(value);
  }
  return flags;
}

/** A program's flags (no positionals); `--help` throws its usage as a ConfigError starting "Usage:". */
export function programFlags<O extends Record<string, Option<unknown>>>(table: OptionTable<O>, args: string[]): Flags<O> {
  const keys = Object.keys(table.options) as (keyof O & string)[];
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args, options: { ...parseArgsOptions(table.options, keys), help: { type: "boolean" } }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message.replace(/\. To specify.*$/s, ""));
  }
  if (values.help) throw new ConfigError(usage(table));
  return flagValues(table.options, keys, values);
}

/**
 * The flags of `keys` among a command's words, and the other words in their
 * order (positionals, and options not among `keys`, as typed). Throws when
 * such a flag has no value (none follows, or the next word is another flag).
 */
export function scanFlags<O extends Record<string, Option<unknown>>>(
  table: OptionTable<O>,
  keys: readonly (keyof O & string)[],
  args: string[],
): { flags: Flags<O>; rest: string[] } {
  const options = parseArgsOptions(table.options, [...keys]);
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const parsed: Record<string, unknown> = {};
  const rest: string[] = [];
  let lastIndex = -1;
  for (const token of tokens) {
    const known = token.kind === "option" ? options[token.name] : undefined;
    if (token.kind === "option" && known && !(known.type === "boolean" && token.inlineValue)) {
      if (known.type === "string" && (token.value === undefined || (!token.inlineValue && token.value.startsWith("--")))) {
        throw new ConfigError(`${token.rawName} needs a value`);
      }
      const value = token.value ?? true;
      parsed[token.name] = known.multiple ? [...(parsed[token.name] as string[] ?? []), value] : value;
    } else if (token.kind === "positional") {
      rest.push(token.value);
    } else if (token.index !== lastIndex) {
      rest.push(args[token.index]); // an unknown option (or `--`), as typed
    }
    lastIndex = token.index;
  }
  return { flags: flagValues(table.options, [...keys], parsed), rest };
}

/**
 * The --help lines of `keys` (default: every option), in table order: flag,
 * variable, help and the default in parentheses; `help` replaces a line's text.
 */
export function optionLines<O extends Record<string, Option<unknown>>>(
  table: OptionTable<O>,
  keys: readonly (keyof O & string)[] = Object.keys(table.options),
  help: Partial<Record<keyof O, string>> = {},
): string {
  const rows = keys.map((key) => {
    const o = table.options[key];
    const shown = o.shown ?? (typeof o.default === "number" || typeof o.default === "string" ? String(o.default) : undefined);
    const text = help[key] ?? (shown ? `${o.help} (${shown})` : o.help);
    return { group: o.group, left: o.flag ? `--${o.flag}${o.arg ? ` ${o.arg}` : ""}` : "", env: o.env ?? "", text };
  });
  const leftWidth = Math.max(...rows.map((r) => r.left.length)) + 1;
  const envWidth = Math.max(...rows.map((r) => r.env.length)) + 1;
  const indent = " ".repeat(2 + leftWidth + envWidth);
  return rows.flatMap((r) => [
    ...(r.group ? [`${r.group}:`] : []),
    ...r.text.split("\n").map((line, i) => (i === 0 ? `  ${r.left.padEnd(leftWidth)}${r.env.padEnd(envWidth)}${line}` : indent + line)),
  ]).join("\n");
}

/** A program's --help: its usage line and a line per option. */
export function usage(table: AnyTable): string {
  return `${table.usage}\n${optionLines(table)}`;
}
