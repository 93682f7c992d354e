// The entry with the locked-flush writer (bench only): `bun run bench/locked-flush/server.ts`.
import { setFrameSinkFactory } from "../../src/mux/frame-sink.ts";
import { LockedFlushWriter } from "./writer.ts";

setFrameSinkFactory((socket, onError) => new LockedFlushWriter(socket, onError));
await import("../../src/server.ts");
