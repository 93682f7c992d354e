/**
 * One client process carrying many sessions (one uplink each), for the
 * dashboard's "100 sessions" test: `bun run test/helpers/many-sessions.ts
 * ENTRY_URL TARGET_URL PREFIX COUNT`. Prints "sessions ready N" once all are live.
 */
import { startAgent } from "../../src/client/agent.ts";
import { bunClientRuntime } from "../../src/adapter/bun/target-fetch.ts";
import { clientConfig } from "../../src/config/config.ts";
import { createLogger } from "../../src/log.ts";

const [server, target, prefix, countText] = process.argv.slice(2);
const count = Number(countText);
const log = createLogger("text");
const quiet = { ...log, info: () => {} };
let ready = 0;
for (let i = 0; i < count; i++) {
  const session = `${prefix}${String(i).padStart(3, "0")}`;
  const config = clientConfig(["--server", server, "--session", session, "--token", "t", "--to", target, "--uplinks", "1"], {});
  startAgent(config, bunClientRuntime, quiet, {
    onReady() {
      if (++ready === count) console.log(`sessions ready ${count}`);
    },
    onRefused(reason) {
      console.error(`session ${session} refused: ${reason}`);
      process.exit(1);
    },
  });
}
