import { connect } from "node:net";

/** How long a probe waits for a connection on loopback. */
const PROBE_TIMEOUT_MS = 500;
/** Probes at most this often (a target that is down is not hammered). */
const PROBE_EVERY_MS = 1000;

/** Whether something accepts a TCP connection at host:port. */
export function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * A target named by port only (`3000`, `localhost:3000`): dev servers bind
 * `localhost` to 127.0.0.1 or to ::1, and users should not have to know
 * which. The URL in use is whichever of the two last answered; a probe runs
 * at start and again (at most once a second) when the target cannot be
 * reached.
 */
export class LocalTarget {
  #urls: [URL, URL];
  #current = 0;
  #lastProbe = 0;
  #probing: Promise<boolean> | undefined;

  /** `target` is the 127.0.0.1 form; its ::1 twin is derived. */
  constructor(target: URL) {
    const v6 = new URL(target);
    v6.hostname = "[::1]";
    this.#urls = [target, v6];
  }

  get url(): URL {
    return this.#urls[this.#current];
  }

  /** Finds which loopback address answers; resolves true when one does. */
  probe(): Promise<boolean> {
    if (this.#probing) return this.#probing;
    if (Date.now() - this.#lastProbe < PROBE_EVERY_MS) return Promise.resolve(false);
    this.#lastProbe = Date.now();
    this.#probing = (async () => {
      const port = Number(this.#urls[0].port || (this.#urls[0].protocol === "https:" ? 443 : 80));
      const [v4, v6] = await Promise.all([answers("127.0.0.1", port), answers("::1", port)]);
      // Both answer: keep the one in use (they may be two different servers, rarely; never flip-flop).
      if (v4 !== v6) this.#current = v4 ? 0 : 1;
      return v4 || v6;
    })().finally(() => (this.#probing = undefined));
    return this.#probing;
  }
}

/** Whether the target (or, for a port alone, either loopback address) accepts connections now. */
export async function targetAnswers(target: URL, localPort: boolean): Promise<boolean> {
  const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
  if (localPort) return (await Promise.all([answers("127.0.0.1", port), answers("::1", port)])).some(Boolean);
  return await answers(target.hostname.replace(/^\[|\]$/g, ""), port);
}
