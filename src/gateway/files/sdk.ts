/**
 * The drive of a group space for programs that run a gateway in their own process
 * (docs/gateway.md §15): the same object the HTTP routes use, without HTTP.
 */
import type { Identity } from '../../keys/keys.js';
import type { Gateway } from '../gateway.js';
import { openSpace, type SpaceOptions } from '../kv/sdk.js';
import type { RunningGateway } from '../server.js';
import { Drive } from './drive.js';

/** The drive of `gateway`'s group `group` as `actor` (a member) sees it. */
export async function driveOf(gateway: Gateway, actor: Identity, group: string): Promise<Drive> {
  const space = await gateway.kv.space(actor, gateway.space(actor, group).id);
  return new Drive(space, {
    groups: gateway.identity.groups,
    client: gateway.client,
    powThreads: gateway.identity.powThreads,
    timeoutMs: gateway.config.timeout_seconds * 1000,
    warn: (message, node) => gateway.log.warn({ node }, message),
  });
}

/**
 * The drive of a group space (`space`: the group id), as `options.identity` (default: the
 * gateway's own identity). It lives as long as the gateway.
 */
export async function openFiles(
  running: RunningGateway,
  space: string,
  options: SpaceOptions = {},
): Promise<Drive> {
  const open = await openSpace(running, space, options);
  return driveOf(running.gateway, open.actor, open.group);
}
