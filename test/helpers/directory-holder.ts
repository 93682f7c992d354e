/**
 * A process that holds one session in the Redis directory and then does
 * nothing, so a test can kill it (-9) and watch its records expire:
 * `REDIS_URL=… HOLD=demo ID=x PREFIX=p: <runtime> test/helpers/directory-holder.ts`.
 */
import process from "node:process";
import { RedisSessionDirectory } from "../../src/cluster/redis-session-directory.ts";
import { createLogger } from "../../src/log.ts";

const env = process.env;
const directory = new RedisSessionDirectory({
  url: env.REDIS_URL!,
  self: { id: env.ID!, url: `http://${env.ID}.internal:8080` },
  log: createLogger(),
  ttlMs: Number(env.TTL_MS ?? 600),
  prefix: env.PREFIX,
});
directory.hold(env.HOLD!);
const wait = setInterval(() => {
  if (directory.connected) {
    clearInterval(wait);
    console.log("holding");
  }
}, 20);
setInterval(() => {}, 1 << 30);
