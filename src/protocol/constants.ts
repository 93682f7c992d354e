/**
 * The whole wire vocabulary of the tunnel2 uplink protocol: version, frame
 * kinds, flag bits, sizes and reason codes. `constants.test.ts` pins every
 * number; changing one is a protocol break and needs a new VERSION.
 */

/** Protocol version carried in the first byte of every frame. */
export const VERSION = 1;

/**
 * Frame header: version (u8), kind (u8), flags (u16 BE), stream id (u32 BE),
 * payload length (u32 BE).
 */
export const HEADER_BYTES = 12;

/** Largest payload one frame may carry. Larger frames are a protocol error. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** Largest whole frame. */
export const MAX_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES;

/**
 * A WebSocket message carries one or more whole frames: the writer sends the
 * frames queued at one moment as one message. This is the largest message.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** The writer sends what it has batched once the batch reaches this size. */
export const BATCH_FLUSH_BYTES = 64 * 1024;

/** Initial per-stream flow-control window (bytes of DATA payload). */
export const DEFAULT_WINDOW_BYTES = 256 * 1024;

/** Smallest and largest window a peer may advertise. */
export const MIN_WINDOW_BYTES = MAX_PAYLOAD_BYTES;
export const MAX_WINDOW_BYTES = 16 * 1024 * 1024;

/** Frame kinds. */
export const FrameKind = {
  /** client → entry, stream 0: JSON {session, token, window}. */
  Hello: 0x01,
  /** entry → client, stream 0: JSON {url, uplinkId, window}. */
  Welcome: 0x02,
  /** entry → client: opens a stream; JSON request head. */
  RequestHead: 0x03,
  /** client → entry: JSON response head. */
  ResponseHead: 0x04,
  /** Body bytes; counts against the stream's window. */
  Data: 0x05,
  /** Half-close: the sender sends no more body on this stream. Empty payload. */
  End: 0x06,
  /** Abort a stream: u32 reason code + UTF-8 message. */
  Reset: 0x07,
  /** Credit: u32 bytes the sender may send beyond its current window. */
  WindowUpdate: 0x08,
  /** Liveness, stream 0: 8 opaque bytes; answered with the Ack flag set. */
  Ping: 0x09,
  /** Stream 0: u32 code + UTF-8 message; the sender takes no new streams. */
  GoAway: 0x0a,
} as const;
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

/** Flag bits. */
export const Flag = {
  /** On RequestHead / ResponseHead / Data: no body follows (implies End). */
  EndStream: 0x0001,
  /** On Ping: this is the answer. */
  Ack: 0x0002,
} as const;

/** Reason codes carried by Reset frames. */
export const ResetCode = {
  /** The peer is gone or the stream was cancelled by its reader. */
  Cancel: 1,
  /** The local target could not be reached. */
  TargetUnreachable: 2,
  /** The target failed mid-response. */
  TargetError: 3,
  /** The stream broke a protocol rule. */
  ProtocolError: 4,
  /** No response head arrived in time. */
  Timeout: 5,
  /** The request body was over the entry's limit. */
  TooLarge: 6,
} as const;
export type ResetCode = typeof ResetCode[keyof typeof ResetCode];

/** Codes carried by GoAway frames. */
export const GoAwayCode = {
  Normal: 0,
  ProtocolError: 1,
  Unauthorized: 2,
  Draining: 3,
  InternalError: 4,
} as const;
export type GoAwayCode = typeof GoAwayCode[keyof typeof GoAwayCode];

/** WebSocket close codes used on uplinks. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  /** Application-level refusal: bad session name or token (permanent). */
  Unauthorized: 4001,
  /** Bad frame: the uplink broke the tunnel2 protocol. */
  BadFrame: 4002,
  /** The peer stopped reading: what it made us queue passed the bound. */
  NotReading: 4003,
  /** The session already holds as many uplinks as the entry allows (MAX_UPLINKS_PER_SESSION). */
  TooManyUplinks: 4004,
  /** The entry refuses the tunnel's access rules: malformed, short of its operator's policy, or one it cannot enforce (permanent). */
  AccessRefused: 4005,
  /** Another client serves the session with another target, and this one did not say it is a replica (permanent). */
  SessionTaken: 4006,
  /** The entry cannot serve this TCP or TLS tunnel: no such ports, the port asked for is outside its range or taken (permanent). */
  TunnelRefused: 4007,
} as const;

/** The largest message an entry takes before its welcome: the hello (session, token, window, access rules). */
export const MAX_HELLO_BYTES = 32 * 1024;

/** Path on the control plane where clients open uplinks. */
export const CONNECT_PATH = "/_tunnel/connect";

/**
 * The session an uplink claims, on its WebSocket upgrade request; its token
 * goes in `Authorization: Bearer`, so an entry with a secret refuses a
 * stranger (401) before it accepts a WebSocket or a byte of a message.
 */
export const UPLINK_SESSION_HEADER = "x-tunnel2-session";

/**
 * Path on the control plane where a visitor agent (`tunnel2 connect`), or
 * an entry relaying a connection, opens a WebSocket carrying one TCP
 * connection to a session: `/_tunnel/tcp/<session>`.
 */
export const TCP_CONNECT_PATH = "/_tunnel/tcp/";

/** Session names: DNS label, lowercase. */
export const SESSION_NAME_PATTERN = /^[a-z0-9-]{1,63}$/;

/**
 * One TCP connection over a WebSocket (`tunnel2 connect`, and entries
 * relaying to each other, at TCP_CONNECT_PATH): binary messages are its
 * bytes; these text messages are its signals. `end`: the sender half-closed;
 * `pause` / `resume`: the receiver asks the sender to stop and start again
 * (the receiver holds at most MAX_TCP_AHEAD_BYTES sent after a pause, else
 * it resets). Close 1000: over; any other close: a reset.
 */
export const TcpSignal = { End: "end", Pause: "pause", Resume: "resume" } as const;

/** What a TCP-over-WebSocket receiver takes after it said pause, before it resets the connection. */
export const MAX_TCP_AHEAD_BYTES = 4 * 1024 * 1024;

/** The header a visitor agent gives a private tunnel's visitor key in. */
export const VISITOR_KEY_HEADER = "x-tunnel2-visitor-key";
