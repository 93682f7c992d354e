/** Structured log lines on stderr: `time level message key=value…`, or JSON lines. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Control characters: C0, DEL and C1. Raw in a terminal they move the cursor, retitle it, or forge lines. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * Writes every control character as a JSON `\u00XX` escape. Logged text
 * comes from visitors and clients (a hello's session name), so it is never
 * written raw.
 */
export function escapeControls(s: string): string {
  return s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A field value: bare when plain, else a JSON string (which reads back exactly), controls escaped either way. */
function text(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  // JSON.stringify escapes C0 but leaves DEL and C1 raw; escapeControls takes them.
  return /[\s"=]/.test(s) || s.search(CONTROL) !== -1 ? escapeControls(JSON.stringify(s)) : s;
}

/** A logger writing one line per event to stderr, or to `sink` (a terminal's status display prints them above its status lines). */
export function createLogger(format: "text" | "json" = "text", sink: (line: string) => void = (line) => console.error(line)): Logger {
  const write = (level: string, message: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    const line = format === "json"
      // Control characters can appear only inside JSON strings, where a \u escape means the same.
      ? escapeControls(JSON.stringify({ time, level, msg: message, ...fields }))
      : `${time} ${level.toUpperCase().padEnd(5)} ${escapeControls(message)}${
        Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${escapeControls(k)}=${text(v)}`).join("")
      }`;
    sink(line);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/** `log` with `fields` first on every line: a process running several tunnels names each line's session. */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  return {
    info: (m, f) => log.info(m, { ...fields, ...f }),
    warn: (m, f) => log.warn(m, { ...fields, ...f }),
    error: (m, f) => log.error(m, { ...fields, ...f }),
  };
}
