/**
 * The drive app: the gateway with the drive's web pages mounted at /drive/. It needs no API of
 * its own: the page signs in like the forum's (a session cookie, same origin only) and calls the
 * gateway's own routes for groups, invitations and files (docs/gateway.md §13, §15), acting for
 * the signed-in identity under the same guard as every other caller.
 */
import type { FastifyInstance } from 'fastify';
import type { GatewayStartOptions } from '../../gateway/server.js';
import { registerStaticFiles } from '../../web/static-files.js';
import { webDir } from '../../web/package-root.js';

/** Where the drive's pages are mounted. */
export const DRIVE_PREFIX = '/drive/';

/**
 * The forum's browser modules for signing in (key files, WebCrypto identities, the login
 * signature, the sign-in card), for calling the API, for the page's frame and icons, and its
 * base stylesheet, served again under the drive's prefix: both apps sign in the one way and share
 * one copy of that code.
 */
export const DRIVE_SHARED_PREFIX = `${DRIVE_PREFIX}shared/`;

/** Where the drive's web pages are, in the package (served as they are: no build step). */
export function driveWebDir(): string {
  return webDir('apps', 'drive', 'web');
}

function sharedWebDir(): string {
  return webDir('apps', 'forum', 'web', 'lib');
}

export interface DriveOptions {
  /** Also send `/` to the drive (when the drive is the gateway's only app). */
  readonly root?: boolean;
}

export async function registerDrivePages(
  app: FastifyInstance,
  options: DriveOptions = {},
): Promise<void> {
  await registerStaticFiles(app, { dir: driveWebDir(), prefix: DRIVE_PREFIX, index: 'index.html' });
  await registerStaticFiles(app, { dir: sharedWebDir(), prefix: DRIVE_SHARED_PREFIX });
  if (options.root) app.get('/', async (_request, reply) => reply.redirect(DRIVE_PREFIX, 302));
}

export function driveOptions(options: DriveOptions = {}): GatewayStartOptions {
  return { plugins: [(app) => registerDrivePages(app, options)] };
}
