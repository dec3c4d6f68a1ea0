// An HTTP handler for an AWS SDK v3 client that answers from a script instead of the network. Unlike
// aws-sdk-client-mock (which replaces `send` and so skips the middleware), the SDK's whole stack runs:
// serialization, signing, retries with its own error classification, and parsing of AWS's XML
// errors into the names the routers match on.
import { Readable } from "node:stream";
import { vi } from "vitest";

export interface ScriptedAnswer {
  status: number;
  /** The XML body, exactly as AWS would send it. */
  body: string;
}

/** What the SDK sent, readable by a test. */
export interface SentRequest {
  method: string;
  hostname: string;
  path: string;
  query: Record<string, unknown>;
  body: string;
}

interface SdkRequest {
  method: string;
  hostname: string;
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
}

export class ScriptedHandler {
  readonly sent: SentRequest[] = [];
  readonly metadata = { handlerProtocol: "http/1.1" };

  /** Answers in order; the last one repeats. */
  constructor(private readonly answers: ScriptedAnswer[]) {}

  handle(request: SdkRequest): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Readable } }> {
    this.sent.push({ method: request.method, hostname: request.hostname, path: request.path, query: request.query ?? {}, body: typeof request.body === "string" ? request.body : "" });
    const answer = this.answers[Math.min(this.sent.length, this.answers.length) - 1];
    if (!answer) throw new Error("ScriptedHandler has no answers");
    return Promise.resolve({
      response: { statusCode: answer.status, headers: { "content-type": "text/xml", "x-amzn-requestid": `req-${this.sent.length}` }, body: Readable.from([Buffer.from(answer.body)]) },
    });
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}
}

/** An AWS XML error body (both the Query and the REST-XML protocols use this shape). */
export function awsErrorXml(code: string, message: string, namespace: string): string {
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${namespace}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>0d7c8e3e-1111-2222-3333-444455556666</RequestId></ErrorResponse>`;
}

/** Runs `action` while fake timers fire the SDK's retry backoff at once */
export async function withoutBackoff<T>(action: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  let outcome: { value: T } | { thrown: unknown } | undefined;
  action().then(
    (value) => (outcome = { value }),
    (thrown: unknown) => (outcome = { thrown }),
  );
  // The SDK schedules its backoff only after real I/O (loading, reading the answer): keep firing
  // timers, letting that I/O run in between, until the call settles.
  try {
    while (!outcome) {
      await vi.runAllTimersAsync();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    vi.useRealTimers();
  }
  if ("thrown" in outcome) throw outcome.thrown;
  return outcome.value;
}
