// Errors of kubectl canary: a pure mapping from what the client throws to what an operator should read, and
// which failures a watch waits out.
import * as z from 'zod';
import { RESOURCES, apiErrorBody, errorMessage, statusCode, type ResourceType } from '../../kube/client.js';


/** An error whose message is already what the user should see. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Worth retrying while watching: the server was unreachable or overloaded, not wrong. */
    readonly transient = false,
  ) {
    super(message);
  }
}

export interface ErrorContext {
  /** The API server URL, for connection errors. */
  server: string;
  /** The resource the failed call was about. */
  resource: ResourceType;
  /** Set for a GET of one named object. */
  name?: string;
}

/** Rejected when an API call takes longer than --request-timeout. */
export class TimeoutError extends Error {}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ESOCKETTIMEDOUT']);

/** The errno code (ECONNREFUSED, ...) of the error or of a cause: fetch wraps the socket's error. */
function errnoCode(err: unknown): string | undefined {
  let e = err;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    if ('code' in e && typeof e.code === 'string') return e.code;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}

/** What is read of the API's Status object (meta/v1 Status); a missing API group answers with plain text instead. */
const StatusBody = z.looseObject({ kind: z.literal('Status'), details: z.looseObject({ name: z.string().optional() }).optional() });

export function crdMissingMessage(resource: ResourceType): string {
  return resource === RESOURCES.canaryRollouts
    ? 'the CanaryRollout CRD is not installed in this cluster: kubectl apply -f crds/ (or -k deploy/)'
    : `this API server does not serve ${resource.plural}.${resource.group}/${resource.version}: is it a Gardener garden cluster?`;
}

/** Connection failures, timeouts, overload and server errors: a watch waits them out. */
export function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  if (code !== undefined) return code === 429 || code >= 500;
  const errno = errnoCode(err);
  return err instanceof TimeoutError || (errno !== undefined && UNREACHABLE.has(errno));
}

export function describeError(err: unknown, ctx: ErrorContext): string {
  if (err instanceof CliError) return err.message;
  const code = statusCode(err);
  if (code !== undefined) {
    const msg = errorMessage(err);
    if (code === 404) {
      // A GET of a missing object names it in the Status details; a missing resource type does not.
      const details = StatusBody.safeParse(apiErrorBody(err)).data?.details;
      if (ctx.name !== undefined && details?.name === ctx.name) return `${ctx.resource.kind.toLowerCase()} "${ctx.name}" not found`;
      return crdMissingMessage(ctx.resource);
    }
    if (code === 403) return `not allowed: ${msg}`;
    if (code === 401) return `not authenticated (are the kubeconfig's credentials valid?): ${msg}`;
    return `the API server refused the request (HTTP ${code}): ${msg}`;
  }
  const errno = errnoCode(err);
  const text = err instanceof Error ? err.message : String(err);
  if ((errno && (UNREACHABLE.has(errno) || errno.startsWith('ERR_TLS') || errno.includes('CERT'))) || err instanceof TimeoutError) {
    // node-fetch says "request to <url> failed, reason: <why>": the why is what matters
    const reason = /reason: (.*)$/s.exec(text)?.[1] ?? text;
    return `cannot reach the API server at ${ctx.server}: ${reason}`;
  }
  return text;
}
