// Errors in the Kubernetes wire format (kind: Status), as the real API server answers them, so the
// drivers' error handling and kubectl's messages are exercised on the real shape.
import type { ResourceType } from "./objects.js";
import { qualifiedName } from "./objects.js";

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason: string; message: string; field: string }[] };
  code: number;
}

/** Thrown inside the double; the server turns it into a Status answer. */
export class ApiFailure extends Error {
  constructor(readonly body: StatusBody) {
    super(body.message);
  }
}

function failure(code: number, reason: string, message: string, details?: StatusBody["details"]): ApiFailure {
  return new ApiFailure({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code });
}

export function notFound(type: ResourceType, name: string): ApiFailure {
  return failure(404, "NotFound", `${qualifiedName(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
}

export function notFoundPath(path: string): ApiFailure {
  return failure(404, "NotFound", `the server could not find the requested resource (${path})`);
}

export function conflict(type: ResourceType, name: string): ApiFailure {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedName(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: type.group, kind: type.plural },
  );
}

export function alreadyExists(type: ResourceType, name: string): ApiFailure {
  return failure(409, "AlreadyExists", `${qualifiedName(type)} "${name}" already exists`, { name, group: type.group, kind: type.plural });
}

export function invalid(type: ResourceType, name: string, causes: { field: string; message: string }[]): ApiFailure {
  const text = causes.map((cause) => `${cause.field}: ${cause.message}`).join(", ");
  return failure(422, "Invalid", `${type.kind} "${name}" is invalid: ${text}`, {
    name,
    group: type.group,
    kind: type.kind,
    causes: causes.map((cause) => ({ reason: "FieldValueInvalid", ...cause })),
  });
}

export function badRequest(message: string): ApiFailure {
  return failure(400, "BadRequest", message);
}

export function unsupportedMediaType(contentType: string): ApiFailure {
  return failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType || "none"})`);
}

export function methodNotSupported(method: string, what: string): ApiFailure {
  return failure(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method} ${what}); the Kubernetes API double serves only get, list, create, update and patch`);
}
