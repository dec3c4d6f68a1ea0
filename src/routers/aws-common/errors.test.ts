import { describe, expect, it } from "vitest";
import { RouterError } from "../../core/errors.js";
import { translateAwsError, type AwsCall } from "./errors.js";

const call: AwsCall = { action: "route53:GetChange", resource: "arn:aws:route53:::change/C1", router: "route53" };
const sdkError = (name: string, message: string, status?: number) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status, attempts: 1 } });

describe("translateAwsError", () => {
  it("says where credentials come from when the SDK found none", () => {
    const error = translateAwsError(sdkError("CredentialsProviderError", "Could not load credentials from any providers"), call);
    expect(error.message).toBe("No AWS credentials found for route53:GetChange: Could not load credentials from any providers");
    expect(error.hint).toMatch(/default chain.*Keys never go in flip\.yaml/);
  });

  it("tells rejected credentials apart from a missing permission", () => {
    const error = translateAwsError(sdkError("InvalidClientTokenId", "The security token included in the request is invalid.", 403), call);
    expect(error.message).toBe("AWS rejected the credentials Flip used for route53:GetChange (InvalidClientTokenId: The security token included in the request is invalid.).");
    expect(error.hint).toContain("aws sts get-caller-identity");
  });

  it("treats any other 403 as a missing permission", () => {
    expect(translateAwsError(sdkError("Forbidden", "nope", 403), call).message).toBe("AWS denied route53:GetChange on arn:aws:route53:::change/C1: nope");
  });

  it("asks for a region when the SDK has none", () => {
    expect(translateAwsError(new Error("Region is missing"), call).hint).toBe("Set router.region in flip.yaml, or AWS_REGION in the environment of flip serve.");
  });

  it("names the call for anything else, keeps the cause, and lets a router's own errors through", () => {
    const cause = sdkError("InternalFailure", "boom", 500);
    const error = translateAwsError(cause, call);
    expect(error).toBeInstanceOf(RouterError);
    expect(error.message).toBe("route53:GetChange on arn:aws:route53:::change/C1 failed: InternalFailure: boom");
    expect(error.cause).toBe(cause);
    const own = new RouterError("already clear");
    expect(translateAwsError(own, call)).toBe(own);
  });
});
