// What both AWS routers set on their SDK clients.

/** How often the SDK tries one call before giving up (its default is 3; deploys must not fail on a burst). */
export const AWS_MAX_ATTEMPTS = 5;

/**
 * Called before an AWS SDK client is first built. The SDK warns on Node 20 that its releases after
 * January 2027 will need Node 22; Flip pins exact SDK versions that run on Node 20, so the warning
 * would only alarm users about versions they cannot get through Flip. A user's own setting wins.
 */
export function quietSdkNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}
