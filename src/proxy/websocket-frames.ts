// Just enough of RFC 6455 framing for the proxy to close a WebSocket cleanly. The proxy never
// decodes or rewrites frames; it follows their boundaries on a byte stream so a close frame can
// be slipped in between two messages, never inside one, and so it can tell when a close arrived.

/** RFC 6455 §7.4.1: "going away", e.g. a server going down; browsers reconnect on it. */
export const CLOSE_GOING_AWAY = 1001;

const FIN_BIT = 0x80;
const OPCODE_BITS = 0x0f;
const MASK_BIT = 0x80;
const LENGTH_BITS = 0x7f;
const OPCODE_CLOSE = 0x8;
/** Opcodes from 0x8 up are control frames: they may come between the fragments of a message. */
const FIRST_CONTROL_OPCODE = 0x8;
/** A close frame's reason must fit a control frame's 125-byte payload, after the 2-byte code. */
const MAX_REASON_BYTES = 123;

/** Follows frame boundaries on one direction of a WebSocket (either direction: masked or not). */
export class FrameTracker {
  /** The header of the frame being read (2 to 14 bytes), while it is incomplete. */
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private payloadRemaining = 0;
  private opcode = 0;
  /** A data message began with FIN unset and its last fragment has not been seen yet. */
  private inFragmentedMessage = false;
  private closeReceived = false;

  /** Between two frames and outside any fragmented message: a close frame may go here. */
  get atMessageBoundary(): boolean {
    return this.headerLength === 0 && this.payloadRemaining === 0 && !this.inFragmentedMessage;
  }

  /** A whole close frame has gone by. */
  get sawClose(): boolean {
    return this.closeReceived;
  }

  /**
   * Follows `chunk` and returns how many of its bytes it took: all of them, or with
   * `stopAtMessageBoundary` only those before the first message boundary in it.
   */
  consume(chunk: Buffer, stopAtMessageBoundary = false): number {
    let offset = 0;
    while (offset < chunk.length) {
      if (stopAtMessageBoundary && this.atMessageBoundary) return offset;
      if (this.payloadRemaining > 0) {
        const taken = Math.min(this.payloadRemaining, chunk.length - offset);
        offset += taken;
        this.payloadRemaining -= taken;
        if (this.payloadRemaining === 0) this.endFrame();
        continue;
      }
      this.header[this.headerLength] = chunk[offset] as number;
      this.headerLength += 1;
      offset += 1;
      this.readHeaderIfComplete();
    }
    return offset;
  }

  private readHeaderIfComplete(): void {
    if (this.headerLength < 2) return;
    const second = this.header[1] as number;
    const lengthCode = second & LENGTH_BITS;
    const extendedBytes = lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0;
    const maskBytes = second & MASK_BIT ? 4 : 0;
    if (this.headerLength < 2 + extendedBytes + maskBytes) return;

    const first = this.header[0] as number;
    this.opcode = first & OPCODE_BITS;
    const final = (first & FIN_BIT) !== 0;
    // A data frame (first fragment or continuation) without FIN leaves its message open; control
    // frames may sit between fragments and change nothing.
    if (this.opcode < FIRST_CONTROL_OPCODE) this.inFragmentedMessage = !final;
    this.payloadRemaining = extendedBytes === 0 ? lengthCode : extendedBytes === 2 ? this.header.readUInt16BE(2) : Number(this.header.readBigUInt64BE(2));
    this.headerLength = 0;
    if (this.payloadRemaining === 0) this.endFrame();
  }

  private endFrame(): void {
    if (this.opcode === OPCODE_CLOSE) this.closeReceived = true;
  }
}

/** An unmasked close frame, as a server sends it: the proxy speaks for the upstream here. */
export function serverCloseFrame(code: number, reason: string): Buffer {
  // The proxy's reasons are short ASCII sentences; the cut only guards the frame's size limit.
  const reasonBytes = Buffer.from(reason, "utf8").subarray(0, MAX_REASON_BYTES);
  const frame = Buffer.alloc(4 + reasonBytes.length);
  frame[0] = FIN_BIT | OPCODE_CLOSE;
  frame[1] = 2 + reasonBytes.length;
  frame.writeUInt16BE(code, 2);
  reasonBytes.copy(frame, 4);
  return frame;
}
