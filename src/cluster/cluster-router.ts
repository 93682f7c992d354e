import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { Logger } from "../log.ts";
import { isGetOrHead } from "../protocol/end-to-end-headers.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { errorResponse } from "../entry/error-response.ts";
import type { RateLimiter } from "../entry/rate-limits.ts";
import type { VisitorWebSockets } from "../entry/visitor-web-sockets.ts";
import type { ClusterCounts, ClusterView, EntryCluster, ReceivedRequest } from "../entry/entry-cluster.ts";
import { forwardToPeer, type PeerForwardDeps } from "./peer-forward.ts";
import { PEER_FOR, PEER_FROM, PEER_HEADERS, PEER_HOST, PEER_NOT_HELD, PEER_SIGNATURE, PEER_TARGET } from "../entry/peer-headers.ts";
import type { PeerSigner } from "./peer-signature.ts";
import type { Peer } from "../entry/entry-cluster.ts";
import type { SessionDirectory } from "./session-directory.ts";

/** Fly's proxy replays request bodies up to 1 MB; bigger or unknown-length bodies are forwarded instead. */
export const MAX_REPLAY_BODY_BYTES = 1_000_000;
/** How long Fly's proxy tries the holding machine before sending the request back here (fly-replay-failed). */
const REPLAY_TIMEOUT = "5s";
/** Sessions listed in /api/sessions' directory view. */
const VIEW_LIMIT = 1000;

/** What the router is built from. */
export interface ClusterRouterDeps {
  self: Peer;
  directory: SessionDirectory;
  signer: PeerSigner;
  fetchPeer: (request: TargetRequest) => Promise<TargetResponse>;
  /** Set on Fly: answer with fly-replay where Fly can replay the request. */
  flyMachineId: string | undefined;
  /** The entry's REQUEST_TIMEOUT_MS: a forwarded head may take that long on the other entry. */
  requestTimeoutMs: number;
  rateLimiter: RateLimiter | undefined;
  webSockets: VisitorWebSockets;
  log: Logger;
}

/** Whether Fly's proxy can replay a request: no body, or one of known length up to 1 MB. */
export function replayable(request: Request): boolean {
  if (request.headers.has("transfer-encoding")) return false;
  const length = request.headers.get("content-length");
  if (length === null) return request.body === null || isGetOrHead(request.method);
  return /^\d{1,7}$/.test(length) && Number(length) <= MAX_REPLAY_BODY_BYTES;
}

/** The visitor's address from an X-Forwarded-For chain: its last entry. */
function lastAddress(chain: string): string {
  return chain.slice(chain.lastIndexOf(",") + 1).trim();
}

/**
 * The entry's part in a cluster: records the sessions it holds in the
 * directory, and sends requests for sessions held elsewhere to an entry that
 * holds them: by fly-replay on Fly when the body is small enough, else
 * forwarded over HTTP, signed, at most once.
 */
export class ClusterRouter implements EntryCluster {
  readonly instanceId: string;
  readonly rateLimiter: RateLimiter | undefined;
  #deps: ClusterRouterDeps;
  #counts: ClusterCounts = { replayed: 0, forwarded: 0, received: 0 };
  /** Spreads requests over the entries holding a session. */
  #turn = 0;
  /** What every forwarded request needs, made once. */
  #forwarding: PeerForwardDeps;

  constructor(deps: ClusterRouterDeps) {
    this.#deps = deps;
    this.instanceId = deps.self.id;
    this.rateLimiter = deps.rateLimiter;
    this.#forwarding = {
      self: deps.self.id,
      signer: deps.signer,
      fetchPeer: deps.fetchPeer,
      headTimeoutMs: deps.requestTimeoutMs + 5_000,
      webSockets: deps.webSockets,
    };
  }

  get storeUp(): boolean {
    return this.#deps.directory.connected;
  }

  held(session: string): void {
    this.#deps.directory.hold(session);
  }

  released(session: string): void {
    this.#deps.directory.release(session);
  }

  receive(request: Request, env: EntryBindings): ReceivedRequest | Response {
    const from = request.headers.get(PEER_FROM) ?? "";
    const host = request.headers.get(PEER_HOST) ?? "";
    const target = request.headers.get(PEER_TARGET) ?? "";
    const chain = request.headers.get(PEER_FOR) ?? "";
    const signature = request.headers.get(PEER_SIGNATURE) ?? "";
    if (
      !target.startsWith("/") || chain === "" ||
      !this.#deps.signer.verify(signature, { from, method: request.method, host, target, forwardedFor: chain })
    ) {
      return errorResponse(
        403,
        "Forbidden: x-tunnel2-peer headers are accepted only on requests forwarded by another entry of this tunnel (signed with its peer secret)",
      );
    }
    this.#counts.received++;
    const headers = new Headers(request.headers);
    for (const name of PEER_HEADERS) headers.delete(name);
    headers.set("host", host);
    const sendsBody = request.body !== null && !isGetOrHead(request.method);
    const rebuilt = new Request(`http://${host}${target}`, {
      method: request.method,
      headers,
      body: sendsBody ? request.body : null,
      signal: request.signal,
      duplex: "half",
    } as RequestInit);
    return { request: rebuilt, env: { ...env, remoteAddress: lastAddress(chain), forwardedFor: chain }, from };
  }

  async elsewhere(request: Request, host: string, session: string, env: EntryBindings, from: string | undefined): Promise<Response> {
    if (from !== undefined) {
      // The directory listed this entry as a holder: no longer so, for everyone.
      this.#deps.directory.disown(session);
      const refusal = errorResponse(
        502,
        `Bad gateway: forwarding loop: entry "${from}" forwarded session "${session}" to entry "${this.instanceId}", which holds no uplink for it; a request is forwarded at most once`,
      );
      refusal.headers.set(PEER_NOT_HELD, this.instanceId);
      return refusal;
    }
    const peers = await this.#deps.directory.locate(session);
    if (peers.length === 0) {
      return this.#deps.directory.connected
        ? errorResponse(502, `Bad gateway: no tunnel client is connected for session "${session}"`)
        : errorResponse(
          502,
          `Bad gateway: session "${session}" is not held by this entry, and the session directory (Redis) is unreachable, so the entry holding it cannot be found`,
        );
    }
    const first = this.#turn++ % peers.length;
    const peer = peers[first];
    if (this.#deps.flyMachineId && replayable(request) && !request.headers.has("fly-replay-src") && !request.headers.has("fly-replay-failed")) {
      this.#counts.replayed++;
      return new Response(`Replayed by Fly's proxy on entry ${peer.id}, which holds session "${session}"\n`, {
        status: 409,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          // force_self: if that machine cannot take it in time, Fly sends the request back here with fly-replay-failed, and it is forwarded.
          "fly-replay": `instance=${peer.id};timeout=${REPLAY_TIMEOUT};fallback=force_self`,
        },
      });
    }
    this.#counts.forwarded++;
    // A request without a body can go to the next holder when one cannot be reached; a body may be half read.
    const tries = request.body === null || isGetOrHead(request.method) ? peers.length : 1;
    for (let i = 0; i < tries; i++) {
      const target = peers[(first + i) % peers.length];
      const answer = await forwardToPeer(request, host, session, target, env, this.#forwarding);
      if (answer === "not-held") {
        // A stale directory entry (its entry came back without the session): not asked again.
        this.#deps.directory.forget(session, target.id);
        continue;
      }
      if (answer !== "unreachable") return answer;
      this.#deps.log.warn("entry unreachable for a forwarded request", { session, entry: target.id, url: target.url });
    }
    return errorResponse(502, `Bad gateway: the entry holding session "${session}" could not be reached, or no longer holds it`);
  }

  heldElsewhere(session: string): boolean {
    return this.#deps.directory.knows(session);
  }

  counts(): ClusterCounts {
    return { ...this.#counts };
  }

  async view(sessions = VIEW_LIMIT): Promise<ClusterView> {
    const directory = await this.#deps.directory.snapshot(sessions);
    return {
      instance: this.instanceId,
      peerUrl: this.#deps.self.url,
      redis: this.#deps.directory.connected ? "up" : "down",
      ...(directory ? { directory } : {}),
      counts: this.counts(),
    };
  }

  async close(): Promise<void> {
    await this.#deps.directory.close();
    await (this.#deps.rateLimiter as { close?: () => Promise<void> | void } | undefined)?.close?.();
  }
}
