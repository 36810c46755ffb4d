/** A group's drive as one identity of the gateway sees it: what the routes and the SDK open. */
import type { Identity } from '../../keys/keys.js';
import type { Gateway } from '../gateway.js';
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
