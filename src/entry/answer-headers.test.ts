import { describe, expect, test } from "bun:test";
import { answerHeaders } from "./answer-headers.ts";

describe("answerHeaders()", () => {
  test("drops every Fly-* header a target sends (fly-replay would steer Fly's proxy)", () => {
    const out = answerHeaders([
      ["content-type", "text/plain"],
      ["fly-replay", "app=internal-billing;state=x"],
      ["Fly-Replay-Cache", "*.example/*"],
      ["fly-replay-cache-ttl-secs", "60"],
      ["FLY-Force-Instance-Id", "abc"],
      ["x-fly-note", "kept: not a Fly- header"],
    ]);
    expect(out).toEqual([["content-type", "text/plain"], ["x-fly-note", "kept: not a Fly- header"]]);
  });

  test("drops Content-Length beside Transfer-Encoding, and hop-by-hop headers", () => {
    expect(answerHeaders([["content-length", "5"], ["Transfer-Encoding", "chunked"], ["connection", "x-a"], ["x-a", "1"], ["x-b", "2"]]))
      .toEqual([["x-b", "2"]]);
    expect(answerHeaders([["content-length", "5"], ["x-b", "2"]])).toEqual([["content-length", "5"], ["x-b", "2"]]);
  });

  test("holds Set-Cookie to the session's host when one is given", () => {
    const out = answerHeaders([["set-cookie", "a=1; Domain=example.com"]], "s.example.com");
    expect(out).toEqual([["set-cookie", "a=1"]]);
  });
});
