import { expect, test } from "bun:test";
import { authority, originForm, pathStart } from "./url-parts.ts";

test("an absolute URL splits into its authority and its path as sent", () => {
  const cases: [string, string, string, number][] = [
    ["http://a.example:8080/p/../q?x=%2F//", "a.example:8080", "/p/../q?x=%2F//", 21],
    ["https://[::1]:9/", "[::1]:9", "/", 15],
    ["http://host", "host", "/", -1],
    ["http://host?q", "host?q", "/", -1],
  ];
  for (const [url, host, path, start] of cases) expect([authority(url), originForm(url), pathStart(url)]).toEqual([host, path, start]);
});
