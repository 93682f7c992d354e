/** A peer broke the tunnel2 protocol; the uplink that carried it is closed. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}
