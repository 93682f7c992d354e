/**
 * Builds this entry's part in a cluster (REDIS_URL set). The entry main
 * imports this module only then, so without Redis nothing of ioredis loads.
 */
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { ClusterConfig, EntryConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { VisitorWebSockets } from "../entry/visitor-web-sockets.ts";
import { ClusterRouter } from "../cluster/cluster-router.ts";
import type { EntryCluster } from "../entry/entry-cluster.ts";
import { PeerSigner } from "../cluster/peer-signature.ts";
import { RedisSessionDirectory } from "../cluster/redis-session-directory.ts";
import { SharedRateLimits } from "../cluster/shared-rate-limits.ts";

export function startCluster(options: {
  config: EntryConfig;
  cluster: ClusterConfig;
  /** How other entries reach this one (TUNNEL_PEER_URL, or derived once listening). */
  peerUrl: string;
  fetchPeer: (request: TargetRequest) => Promise<TargetResponse>;
  webSockets: VisitorWebSockets;
  log: Logger;
}): EntryCluster {
  const { config, cluster, log } = options;
  const self = { id: cluster.instanceId, url: options.peerUrl };
  const directory = new RedisSessionDirectory({ url: cluster.redisUrl, self, log });
  return new ClusterRouter({
    self,
    directory,
    signer: PeerSigner.create(cluster.peerSecret),
    fetchPeer: options.fetchPeer,
    flyMachineId: cluster.flyMachineId,
    requestTimeoutMs: config.requestTimeoutMs,
    // One bucket per session for all entries; sessions without a limit never touch Redis.
    rateLimiter: SharedRateLimits.create(config.rateLimit, config.tiers, { url: cluster.redisUrl, log }),
    webSockets: options.webSockets,
    log,
  });
}
