import { describe, expect, test } from "bun:test";
import { fitToWidth, StatusTerminal } from "./status-terminal.ts";

/** A screen that records what was written. */
function screen(columns = 40) {
  const writes: string[] = [];
  return { columns, write: (t: string) => writes.push(t), writes };
}

describe("StatusTerminal", () => {
  test("each status line is cut to the terminal's width less one column, so it never wraps", () => {
    const s = screen(20);
    const t = new StatusTerminal(s, () => ["uplinks 2/2 on 127.0.0.1:8080 · 0.0 req/s", "short"]);
    t.redraw();
    expect(s.writes[0]).toBe("uplinks 2/2 on 127…\nshort");
    expect(s.writes[0].split("\n").every((line) => line.length <= 19)).toBe(true);
    // Resized wider: the next draw uses the new width, after clearing both old lines.
    s.columns = 80;
    t.redraw();
    expect(s.writes[1]).toBe("\x1b[1A\r\x1b[Juplinks 2/2 on 127.0.0.1:8080 · 0.0 req/s\nshort");
  });

  test("made narrower, the old line reflowed onto more rows is cleared whole", () => {
    const s = screen(41);
    const t = new StatusTerminal(s, () => ["x".repeat(60)]);
    t.redraw(); // 39 characters and the ellipsis: 40
    s.columns = 15;
    t.redraw(); // those 40 now take 3 rows of 15
    expect(s.writes[1]).toBe(`\x1b[2A\r\x1b[J${"x".repeat(13)}…`);
  });

  test("printed lines go above the status line, never glued onto it", () => {
    const s = screen();
    const t = new StatusTerminal(s, () => ["status"]);
    t.redraw();
    t.print("12:00:01 GET /a 200 3 ms");
    t.print("a log line\n");
    expect(s.writes.slice(1)).toEqual(["\r\x1b[J12:00:01 GET /a 200 3 ms\nstatus", "\r\x1b[Ja log line\nstatus"]);
  });

  test("control characters in a status line are escaped; stop clears it for good", () => {
    const s = screen();
    const t = new StatusTerminal(s, () => ["last error: \x1b]0;owned\x07"]);
    t.redraw();
    expect(s.writes[0]).toBe("last error: \\u001b]0;owned\\u0007");
    t.stop();
    t.redraw();
    t.print("after");
    expect(s.writes.slice(1)).toEqual(["\r\x1b[J", "", "after\n"]);
  });

  test("fitToWidth() keeps short lines and marks cut ones", () => {
    expect(fitToWidth("abc", 3)).toBe("abc");
    expect(fitToWidth("abcd", 3)).toBe("ab…");
  });
});
