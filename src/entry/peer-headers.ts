/**
 * Headers one entry adds to a request it forwards to another. A visitor's
 * request carrying any of them is refused unless signed by an entry, and
 * none of them ever reaches a target.
 */

/** The instance id of the entry that forwarded the request: also the hop marker (a forwarded request is never forwarded again). */
export const PEER_FROM = "x-tunnel2-peer";
/** `<time>.<HMAC>` over the forwarding entry, method, Host and path (see peer-signature.ts). */
export const PEER_SIGNATURE = "x-tunnel2-peer-signature";
/** The visitor's Host: the session's public name. */
export const PEER_HOST = "x-tunnel2-host";
/** The X-Forwarded-For the target is to see, as the first entry made it. */
export const PEER_FOR = "x-tunnel2-for";
/**
 * The visitor's path and query, as signed: the receiver takes the request
 * target from here, not from its own URL (Bun's fetch sends `//x` as `/x`).
 */
export const PEER_TARGET = "x-tunnel2-target";
/** On a 502 from the receiving entry: it holds no uplink for the session (the forwarder tries another). */
export const PEER_NOT_HELD = "x-tunnel2-not-held";

export const PEER_HEADERS: readonly string[] = [PEER_FROM, PEER_SIGNATURE, PEER_HOST, PEER_FOR, PEER_TARGET, PEER_NOT_HELD];
