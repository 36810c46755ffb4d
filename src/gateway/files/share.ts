/**
 * Sharing a folder with a person (docs/gateway.md §15). Who reads a file is who holds its
 * epoch's keys, that is the group's members: a folder of a drive is shared by making it a
 * group's drive. The whole drive is shared by adding the person to its group; a folder inside
 * it becomes a new group, with the person as a member, into whose drive the folder's files are
 * copied (sealed again under the new group's keys: the old ones must not reach the person).
 */
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import { inviteeKey, type Gateway } from '../gateway.js';
import { checkPath, MAX_LIST_LIMIT, type Drive } from './drive.js';
import { driveOf } from './drive-of.js';

export interface ShareRequest {
  readonly folder: string;
  readonly member: string;
  readonly role: 'reader' | 'writer';
}

export async function shareFolder(
  gateway: Gateway,
  actor: Identity,
  source: Drive,
  request: ShareRequest,
): Promise<{ space: string; files: number }> {
  inviteeKey(request.member);
  const member = request.member.trim();
  const add = { op: 'add' as const, member, role: request.role };
  if (request.folder === '') {
    await gateway.identity.commit(actor, source.group, add);
    return { space: source.group, files: 0 };
  }
  const folder = checkPath(request.folder, 'folder');
  // Listed before the group is made: a folder with nothing in it is refused without one.
  const first = await source.list(folder, { recursive: true, limit: MAX_LIST_LIMIT });
  if (first.files.length === 0) {
    throw new P2PError('no_such_file', `no files under ${folder.slice(0, 200)}`);
  }
  const name = folder.slice(folder.lastIndexOf('/') + 1);
  const space = await gateway.createSpace(actor, name);
  const target = await driveOf(gateway, actor, space.id);
  let copied = 0;
  let page = first;
  const depth = folder.split('/').length;
  for (;;) {
    for (const file of page.files) {
      const { stream } = await source.read(file.path);
      await target.put(file.path.split('/').slice(depth).join('/'), stream, {
        media_type: file.media_type,
        modified: file.modified,
      });
      copied += 1;
    }
    if (!page.more || page.after === undefined) break;
    page = await source.list(folder, { recursive: true, limit: MAX_LIST_LIMIT, after: page.after });
  }
  await gateway.identity.commit(actor, space.id, add);
  return { space: space.id, files: copied };
}
