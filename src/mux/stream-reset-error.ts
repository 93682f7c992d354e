import { ResetCode } from "../protocol/constants.ts";

/** A stream ended by a Reset frame (from the peer or locally), with its reason. */
export class StreamResetError extends Error {
  override name = "StreamResetError";
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }

  /** The error every stream of a lost uplink ends with. */
  static uplinkLost(reason: string): StreamResetError {
    return new StreamResetError(ResetCode.Cancel, `Uplink lost: ${reason}`);
  }
}
