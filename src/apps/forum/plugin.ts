/**
 * The forum app: the gateway with the forum's API and web pages mounted. Its only database is
 * p2pcloud nodes, through the gateway.
 */
import type { GatewayStartOptions } from '../../gateway/server.js';
import { registerStaticFiles } from '../../web/static-files.js';
import { webDir } from '../../web/package-root.js';
import { registerForumRoutes } from './routes.js';
import { ForumState } from './state.js';

/** Where the forum's web pages are, in the package (served as they are: no build step). */
export function forumWebDir(): string {
  return webDir('apps', 'forum', 'web');
}

export function forumOptions(): GatewayStartOptions {
  const forum = new ForumState();
  return {
    prepare: (gateway) => forum.install(gateway),
    plugins: [
      async (app, gateway) => {
        registerForumRoutes(app, gateway, forum);
        await registerStaticFiles(app, { dir: forumWebDir(), prefix: '/', index: 'index.html' });
      },
    ],
  };
}
