// The client with the locked-flush writer (bench only): same flags as src/client.ts.
import { setFrameSinkFactory } from "../../src/mux/frame-sink.ts";
import { LockedFlushWriter } from "./writer.ts";

setFrameSinkFactory((socket, onError) => new LockedFlushWriter(socket, onError));
await import("../../src/client.ts");
