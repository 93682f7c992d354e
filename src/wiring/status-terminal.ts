/**
 * The bottom of a terminal while tunnels run: one status line per tunnel,
 * each cut to the terminal's width so it never wraps (a wrapped line is
 * left behind by every redraw), redrawn every tick and on resize; log lines
 * and request lines are printed above it, on lines of their own.
 */
import { escapeControls } from "../log.ts";

/** What the status terminal writes to: a TTY's columns and its output. */
export interface Screen {
  columns: number | undefined;
  write(text: string): void;
}

/** Cuts `line` to at most `width` characters, ending with an ellipsis when cut. */
export function fitToWidth(line: string, width: number): string {
  const w = Math.max(1, width);
  return line.length <= w ? line : `${line.slice(0, w - 1)}…`;
}

export class StatusTerminal {
  #screen: Screen;
  #lines: () => string[];
  /** The status lines on screen now (none before the first draw and after stop). */
  #shown: string[] = [];
  #stopped = false;

  constructor(screen: Screen, lines: () => string[]) {
    this.#screen = screen;
    this.#lines = lines;
  }

  /**
   * Moves to the first status line and clears from there to the end of the
   * screen. The lines drawn fit the width they were drawn at; a terminal
   * made narrower since reflows them onto more rows, which are counted at
   * the width it has now.
   */
  #clear(): string {
    if (this.#shown.length === 0) return "";
    const columns = Math.max(1, this.#screen.columns ?? 80);
    const rows = this.#shown.reduce((n, line) => n + Math.max(1, Math.ceil(line.length / columns)), 0);
    return `${rows > 1 ? `\x1b[${rows - 1}A` : ""}\r\x1b[J`;
  }

  #draw(): string {
    if (this.#stopped) return "";
    // One column short: a line exactly as wide as the terminal wraps on some terminals.
    const width = (this.#screen.columns ?? 80) - 1;
    const lines = this.#lines().map((line) => fitToWidth(escapeControls(line), width));
    this.#shown = lines;
    return lines.join("\n");
  }

  /** Redraws the status lines (each tick, and when the terminal is resized). */
  redraw(): void {
    this.#screen.write(this.#clear() + this.#draw());
  }

  /** Prints whole lines above the status lines. `text` is written as given: escape what came from elsewhere first. */
  print(text: string): void {
    const body = text.endsWith("\n") ? text : `${text}\n`;
    const clear = this.#clear();
    this.#shown = [];
    this.#screen.write(clear + body + this.#draw());
  }

  /** Clears the status lines for good (on exit). */
  stop(): void {
    this.#screen.write(this.#clear());
    this.#shown = [];
    this.#stopped = true;
  }
}
