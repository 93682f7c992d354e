/** Structured log lines on stderr: `time level message key=value…`, or JSON lines. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function text(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** A logger writing one line per event to stderr. */
export function createLogger(format: "text" | "json" = "text"): Logger {
  const write = (level: string, message: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    const line = format === "json"
      ? JSON.stringify({ time, level, msg: message, ...fields })
      : `${time} ${level.toUpperCase().padEnd(5)} ${message}${
        Object.entries(fields).map(([k, v]) => ` ${k}=${text(v)}`).join("")
      }`;
    console.error(line);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
