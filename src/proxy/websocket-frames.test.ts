import { describe, expect, it } from "vitest";
import { CLOSE_GOING_AWAY, FrameTracker, serverCloseFrame } from "./websocket-frames.js";

/** A frame with `payloadLength` bytes of payload: FIN and opcode as given, masked or not. */
function frame(opcode: number, payloadLength: number, options: { fin?: boolean; masked?: boolean } = {}): Buffer {
  const first = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  const maskBit = options.masked ? 0x80 : 0;
  let header: Buffer;
  if (payloadLength < 126) header = Buffer.from([first, maskBit | payloadLength]);
  else if (payloadLength <= 0xffff) {
    header = Buffer.from([first, maskBit | 126, 0, 0]);
    header.writeUInt16BE(payloadLength, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  const mask = options.masked ? Buffer.from([9, 8, 7, 6]) : Buffer.alloc(0);
  return Buffer.concat([header, mask, Buffer.alloc(payloadLength, 0x61)]);
}

/** Feeds `bytes` in slices of `size`, stopping at each message boundary the way the tunnel does; returns their offsets. */
function boundaries(bytes: Buffer, size: number): number[] {
  const tracker = new FrameTracker();
  const seen: number[] = [];
  for (let start = 0; start < bytes.length; start += size) {
    const slice = bytes.subarray(start, Math.min(start + size, bytes.length));
    let offset = 0;
    while (offset < slice.length) {
      // At a boundary already, consume(…, true) takes nothing: step into the next frame by one byte.
      const taken = tracker.consume(slice.subarray(offset), true) || tracker.consume(slice.subarray(offset, offset + 1));
      offset += taken;
      if (tracker.atMessageBoundary) seen.push(start + offset);
    }
  }
  return seen;
}

describe("FrameTracker", () => {
  const small = frame(0x1, 5);
  const medium = frame(0x2, 300); // 16-bit length
  const large = frame(0x2, 70_000); // 64-bit length
  const stream = Buffer.concat([small, medium, large]);
  const ends = [small.length, small.length + medium.length, stream.length];

  it("finds every frame end whatever the chunking, for 7-, 16- and 64-bit lengths", () => {
    for (const size of [1, 2, 3, 7, 64, 1_000, stream.length]) expect(boundaries(stream, size)).toEqual(ends);
  });

  it("stops at the first boundary in a chunk when asked, and takes everything otherwise", () => {
    const tracker = new FrameTracker();
    expect(tracker.consume(stream.subarray(0, 10), true)).toBe(0); // a boundary right at the start
    expect(tracker.consume(stream.subarray(0, 1))).toBe(1);
    expect(tracker.consume(stream.subarray(1, small.length + 10), true)).toBe(small.length - 1);
    expect(tracker.atMessageBoundary).toBe(true);
    expect(tracker.consume(stream.subarray(small.length, small.length + 10))).toBe(10);
    expect(tracker.atMessageBoundary).toBe(false);
  });

  it("reads masked frames (the client's side) too", () => {
    const masked = Buffer.concat([frame(0x1, 3, { masked: true }), frame(0x1, 200, { masked: true })]);
    expect(boundaries(masked, 5)).toEqual([9, masked.length]);
  });

  it("treats a fragmented message as one, with control frames between its fragments", () => {
    const parts = [frame(0x1, 10, { fin: false }), frame(0x9, 2), frame(0x0, 10, { fin: false }), frame(0x0, 10)];
    const message = Buffer.concat(parts);
    expect(boundaries(message, 4)).toEqual([message.length]);
  });

  it("counts empty frames, and notices a whole close frame only once it is complete", () => {
    const tracker = new FrameTracker();
    tracker.consume(frame(0x1, 0));
    expect(tracker.atMessageBoundary).toBe(true);
    const close = serverCloseFrame(1000, "bye");
    tracker.consume(close.subarray(0, 3));
    expect(tracker.sawClose).toBe(false);
    tracker.consume(close.subarray(3));
    expect(tracker.sawClose).toBe(true);
  });
});

describe("serverCloseFrame", () => {
  it("is an unmasked close frame with the code and the reason", () => {
    const close = serverCloseFrame(CLOSE_GOING_AWAY, "switched");
    expect([...close.subarray(0, 4)]).toEqual([0x88, 2 + 8, 0x03, 0xe9]);
    expect(close.subarray(4).toString()).toBe("switched");
  });

  it("keeps the reason within a control frame's 125 bytes", () => {
    const close = serverCloseFrame(CLOSE_GOING_AWAY, "x".repeat(500));
    expect(close[1]).toBe(125);
    expect(close.length).toBe(2 + 125);
  });
});
