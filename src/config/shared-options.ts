import { DEFAULT_WINDOW_BYTES, MAX_WINDOW_BYTES, MIN_WINDOW_BYTES } from "../protocol/constants.ts";
import { DEFAULT_UPLINK_TIMINGS } from "../protocol/uplink-timings.ts";
import { integer, uplinkTimings } from "./option-kinds.ts";
import { option } from "./option-table.ts";

/** The options both programs take alike: the rows the entry's and the client's tables share. */
export const SHARED_OPTIONS = {
  windowBytes: option({
    flag: "window-bytes",
    env: "TUNNEL_WINDOW_BYTES",
    arg: "N",
    kind: integer(MIN_WINDOW_BYTES, MAX_WINDOW_BYTES),
    default: DEFAULT_WINDOW_BYTES,
    help: "per-stream flow-control window",
  }),
  uplinkTimings: option({
    group: "For tests and slow machines",
    env: "TUNNEL_UPLINK_TIMINGS",
    kind: uplinkTimings,
    default: DEFAULT_UPLINK_TIMINGS,
    help: 'uplink clocks as JSON, e.g. {"pingEveryMs":5000,"silenceMs":15000}',
  }),
};
