// What the AWS routers (aws-alb, route53) make of an SDK error: a RouterError that names the IAM
// action, the resource and what to do. The SDK has already retried what is retryable (throttling,
// 5xx, timeouts) by the time an error gets here, so nothing here retries.
import { RouterError } from "../../core/errors.js";

/** One AWS API call, as the user would look it up in IAM. */
export interface AwsCall {
  /** The IAM action, e.g. "elasticloadbalancing:ModifyListener". */
  action: string;
  /** The ARN or id the call is about. */
  resource: string;
  /** The router kind, for the hint (e.g. "aws-alb"). */
  router: string;
}

/** The parts of an SDK v3 service error Flip reads; anything thrown may lack them. */
interface SdkErrorFields {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"]);
const BAD_CREDENTIALS = new Set(["InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidSignatureException"]);
// The SDK's own list (service-error-classification) plus Route 53's "a change is still in progress".
const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "PriorRequestNotComplete",
  "SlowDown",
]);

export function errorName(error: unknown): string {
  const name = (error as SdkErrorFields | undefined)?.name;
  return typeof name === "string" ? name : "Error";
}

function errorMessage(error: unknown): string {
  const message = (error as SdkErrorFields | undefined)?.message;
  return typeof message === "string" && message !== "" ? message : String(error);
}

/**
 * A RouterError for a failed call. `specific` handles the errors one router knows better (a
 * listener that does not exist); the common ones (permissions, credentials, throttling, region)
 * read the same for every AWS router.
 */
export function translateAwsError(error: unknown, call: AwsCall, specific?: (name: string, message: string) => RouterError | undefined): RouterError {
  if (error instanceof RouterError) return error;
  const name = errorName(error);
  const message = errorMessage(error);
  const known = specific?.(name, message);
  if (known) return known;
  const options = { cause: error };
  const status = (error as SdkErrorFields | undefined)?.$metadata?.httpStatusCode;
  if (ACCESS_DENIED.has(name) || (status === 403 && !BAD_CREDENTIALS.has(name))) {
    return new RouterError(
      `AWS denied ${call.action} on ${call.resource}: ${message}`,
      `Allow ${call.action} on ${call.resource} for the IAM identity Flip runs as (the README's ${call.router} section lists every permission the router needs).`,
      options,
    );
  }
  if (BAD_CREDENTIALS.has(name)) {
    return new RouterError(
      `AWS rejected the credentials Flip used for ${call.action} (${name}: ${message}).`,
      "Check the credentials the AWS SDK picks up (AWS_PROFILE, AWS_ACCESS_KEY_ID, the instance or task role); `aws sts get-caller-identity` shows who they are.",
      options,
    );
  }
  if (name === "CredentialsProviderError") {
    return new RouterError(
      `No AWS credentials found for ${call.action}: ${message}`,
      "Flip uses the AWS SDK's default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/config, SSO, web identity (EKS), or the ECS/EC2 role. Keys never go in flip.yaml.",
      options,
    );
  }
  if (THROTTLING.has(name)) {
    const attempts = (error as SdkErrorFields).$metadata?.attempts;
    return new RouterError(
      `AWS kept throttling ${call.action} on ${call.resource}${attempts ? ` after ${attempts} attempts` : ""} (${name}: ${message}).`,
      "Something else in the account is calling this API at a high rate; try again in a minute.",
      options,
    );
  }
  if (/region is missing/i.test(message)) {
    return new RouterError(`No AWS region for ${call.action}.`, "Set router.region in flip.yaml, or AWS_REGION in the environment of flip serve.", options);
  }
  return new RouterError(`${call.action} on ${call.resource} failed: ${name}: ${message}`, undefined, options);
}

/** Runs one SDK call; whatever it throws becomes a RouterError that names the call. */
export async function callAws<T>(call: AwsCall, send: () => Promise<T>, specific?: (name: string, message: string) => RouterError | undefined): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw translateAwsError(error, call, specific);
  }
}

