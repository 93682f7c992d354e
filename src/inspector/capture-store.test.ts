import { describe, expect, test } from "bun:test";
import { CaptureStore } from "./capture-store.ts";

const request = (path = "/") => ({ tunnel: "t", time: 0, method: "GET", path, requestHeaders: [] as [string, string][] });

describe("CaptureStore", () => {
  test("keeps the last maxRequests, newest first", () => {
    const store = new CaptureStore({ maxRequests: 3 });
    for (let i = 1; i <= 5; i++) store.add(request(`/${i}`));
    expect(store.list().map((r) => r.path)).toEqual(["/5", "/4", "/3"]);
    expect(store.get(1)).toBeUndefined();
    expect(store.get(5)?.path).toBe("/5");
  });

  test("a body keeps its first maxBodyBytesEach bytes and counts the rest", () => {
    const store = new CaptureStore({ maxBodyBytesEach: 10 });
    const r = store.add(request());
    r.responseBody.add(new Uint8Array(6).fill(1));
    r.responseBody.add(new Uint8Array(6).fill(2));
    r.responseBody.add(new Uint8Array(100).fill(3));
    expect(r.responseBody.size).toBe(112);
    expect(r.responseBody.keptBytes).toBe(10);
    expect(r.responseBody.truncated).toBe(true);
    expect([...r.responseBody.bytes()]).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(store.bodyBytes).toBe(10);
  });

  test("past maxBodyBytes the oldest requests go, and their bytes are no longer counted", () => {
    const store = new CaptureStore({ maxBodyBytes: 25, maxBodyBytesEach: 10 });
    const first = store.add(request("/1"));
    first.requestBody.add(new Uint8Array(10));
    const second = store.add(request("/2"));
    second.responseBody.add(new Uint8Array(10));
    const third = store.add(request("/3"));
    third.responseBody.add(new Uint8Array(10));
    expect(store.list().map((r) => r.path)).toEqual(["/3", "/2"]);
    expect(store.bodyBytes).toBe(20);
    // A dropped request's body still passing is counted, not kept.
    first.requestBody.add(new Uint8Array(10));
    expect(first.requestBody.keptBytes).toBe(0);
    expect(store.bodyBytes).toBe(20);
  });

  test("the caller's buffer is copied, not held: changing it later changes nothing kept", () => {
    const store = new CaptureStore();
    const r = store.add(request());
    const chunk = new Uint8Array([1, 2, 3]);
    r.requestBody.add(chunk);
    chunk.fill(9);
    expect([...r.requestBody.bytes()]).toEqual([1, 2, 3]);
  });

  test("subscribers hear added, updated and cleared", () => {
    const store = new CaptureStore();
    const seen: string[] = [];
    const stop = store.subscribe((e) => seen.push(e.type === "cleared" ? "cleared" : `${e.type} ${e.request.id}`));
    const r = store.add(request());
    store.updated(r);
    store.clear();
    store.updated(r); // gone: no event
    stop();
    store.add(request());
    expect(seen).toEqual(["added 1", "updated 1", "cleared"]);
    expect(store.size).toBe(1);
  });

  test("a request dropped past the limit is announced, so a page can drop it too", () => {
    const store = new CaptureStore({ maxRequests: 2 });
    const seen: string[] = [];
    store.subscribe((e) => seen.push(e.type === "dropped" ? `dropped ${e.id}` : e.type === "cleared" ? "cleared" : `${e.type} ${e.request.id}`));
    for (let i = 0; i < 3; i++) store.add(request());
    expect(seen).toEqual(["added 1", "added 2", "dropped 1", "added 3"]);
  });
});
