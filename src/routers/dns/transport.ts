// Sends one DNS message and returns the answer: over UDP (sent again while no answer comes, as
// resolvers do) or over TCP (two-byte length prefix, RFC 1035 §4.2.2). The time limits are socket
// deadlines on the network, not waits Flip decides on, so they use real timers rather than the Clock.
import { createSocket } from "node:dgram";
import { connect, isIPv6 } from "node:net";

export interface DnsServer {
  host: string;
  port: number;
}

/** Why a message got no answer: "timeout" or the socket error's code (ECONNREFUSED...). */
export class DnsTransportError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const UDP_ATTEMPTS = 3;

export function exchangeUdp(server: DnsServer, message: Buffer, timeoutMs: number): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  const socket = createSocket(isIPv6(server.host) ? "udp6" : "udp4");
  return new Promise<Buffer>((resolve, reject) => {
    let attempts = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (error: Error | undefined, answer?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(answer as Buffer);
    };
    const send = () => {
      attempts += 1;
      socket.send(message);
      timer = setTimeout(() => (attempts < UDP_ATTEMPTS ? send() : finish(new DnsTransportError("timeout", `no answer over UDP within ${timeoutMs}ms`))), timeoutMs / UDP_ATTEMPTS);
    };
    // Answers to an earlier attempt carry the same id; anything else is not ours.
    socket.on("message", (answer) => {
      if (answer.length >= 12 && answer.readUInt16BE(0) === id) finish(undefined, answer);
    });
    // A connected socket hears "port unreachable", so a server that is not running fails at once.
    socket.on("error", (error: NodeJS.ErrnoException) => finish(new DnsTransportError(error.code ?? "error", error.message)));
    socket.connect(server.port, server.host, send);
  });
}

export function exchangeTcp(server: DnsServer, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new DnsTransportError("timeout", `no answer over TCP within ${timeoutMs}ms`)));
    socket.on("error", (error: NodeJS.ErrnoException) => fail(new DnsTransportError(error.code ?? "error", error.message)));
    socket.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      const all = Buffer.concat(chunks);
      if (received >= 2 && received >= 2 + all.readUInt16BE(0)) {
        socket.end();
        resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
      }
    });
    socket.on("end", () => fail(new DnsTransportError("closed", "the server closed the connection before answering")));
  });
}
