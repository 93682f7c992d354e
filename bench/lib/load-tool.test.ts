import { describe, expect, test } from "bun:test";
import { parseAutocannon, parseOha, parseWrk } from "./load-tool.ts";

describe("load tool parsers", () => {
  test("parseWrk() reads rate, percentiles, max and errors", () => {
    const out = `Running 10s test @ http://127.0.0.1:3902/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.97ms    2.10ms  45.20ms   80.00%
    Req/Sec     3.60k   300.00     4.10k    70.00%
  Latency Distribution
     50%    6.88ms
     75%    8.00ms
     90%    9.00ms
     99%   17.57ms
  67557 requests in 10.00s, 7.40MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   6755.74
Transfer/sec:    757.00KB`;
    expect(parseWrk(out)).toEqual({ tool: "wrk", rps: 6755.74, p50: 6.88, p99: 17.57, max: 45.2, requests: 67557, errors: 7 });
    expect(parseWrk(out.replace("17.57ms", "812.00us")).p99).toBeCloseTo(0.812);
  });

  test("parseOha() converts seconds to ms and counts non-2xx and errors", () => {
    const out = JSON.stringify({
      summary: { requestsPerSec: 1000.5, slowest: 0.25 },
      latencyPercentiles: { p50: 0.004, p99: 0.02 },
      statusCodeDistribution: { "200": 990, "502": 5 },
      errorDistribution: { "connection closed": 2 },
    });
    expect(parseOha(out)).toEqual({ tool: "oha", rps: 1000.5, p50: 4, p99: 20, max: 250, requests: 997, errors: 7 });
  });

  test("parseAutocannon() reads its JSON after any banner", () => {
    const out = "Running 1s test\n" + JSON.stringify({
      requests: { average: 500, total: 5000 }, latency: { p50: 2, p99: 9, max: 30 }, errors: 1, timeouts: 2, non2xx: 3,
    });
    expect(parseAutocannon(out)).toEqual({ tool: "autocannon", rps: 500, p50: 2, p99: 9, max: 30, requests: 5000, errors: 6 });
  });
});
