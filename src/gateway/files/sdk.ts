/**
 * The drive of a group space for programs that run a gateway in their own process
 * (docs/gateway.md §15): the same object the HTTP routes use, without HTTP.
 */
import { openSpace, type SpaceOptions } from '../kv/sdk.js';
import type { RunningGateway } from '../server.js';
import type { Drive } from './drive.js';
import { driveOf } from './drive-of.js';

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
