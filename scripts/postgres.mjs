#!/usr/bin/env node
/**
 * A throw-away PostgreSQL cluster for the tests and benchmarks: initdb in a temporary
 * directory, listening on 127.0.0.1 on a free port, trust authentication for the user
 * `p2pcloud`, fsync off (nothing in it needs to survive the machine). PostgreSQL refuses to run
 * as root, so under root the cluster belongs to the `postgres` system user of the Debian
 * package and its programs run through runuser.
 *
 * As a module: `startCluster()` returns `{ url, dir, port, stop(), restart(), kill() }`.
 * As a command: `node scripts/postgres.mjs` starts a cluster, prints its URL and keeps it
 * until interrupted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const USER = 'p2pcloud';

/** The directory of initdb, pg_ctl and postgres: pg_config's answer, else Debian's usual. */
export function postgresBinDir() {
  const candidates = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // pg_config is in the -dev package only; Debian's server binaries live under /usr/lib.
  }
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')));
  if (!found) {
    throw new Error(
      'PostgreSQL server binaries (initdb) not found: install Debian\'s "postgresql" package (.ci/run does)',
    );
  }
  return found;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program as the cluster's owner; throws with its output on failure. */
function run(bin, program, args) {
  const command = asRoot ? 'runuser' : join(bin, program);
  const argv = asRoot ? ['-u', 'postgres', '--', join(bin, program), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8', stdio: 'pipe' });
  if (result.status !== 0) {
    throw new Error(
      `${program} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`,
    );
  }
  return result.stdout;
}

export async function startCluster(options = {}) {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), 'p2pcloud-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  run(bin, 'initdb', [
    '-D',
    data,
    '-U',
    USER,
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  const port = options.port ?? (await freePort());
  writeFileSync(
    join(dir, 'settings.conf'),
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'full_page_writes = off',
      `max_connections = ${options.maxConnections ?? 300}`,
      'shared_buffers = 128MB',
      "log_min_messages = 'warning'",
      '',
    ].join('\n'),
  );
  if (asRoot) {
    const { uid, gid } = postgresIds();
    chownSync(join(dir, 'settings.conf'), uid, gid);
  }
  writeFileSync(join(data, 'postgresql.auto.conf'), `include '${join(dir, 'settings.conf')}'\n`, {
    flag: 'a',
  });
  const start = () => run(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
  const stopWith = (mode) => {
    try {
      run(bin, 'pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    } catch (error) {
      // Already stopped is what was asked for.
      if (!/not running|No such process|PID file .* does not exist/i.test(String(error))) {
        throw error;
      }
    }
  };
  start();
  let removed = false;
  return {
    url: `postgres://${USER}@127.0.0.1:${port}/postgres`,
    dir,
    port,
    /** Stops the server at once (in-flight transactions roll back) and starts it again. */
    restart() {
      stopWith('immediate');
      start();
    },
    /** Stops the server, keeping its files (start() brings it back). */
    halt() {
      stopWith('fast');
    },
    start,
    stop() {
      if (removed) return;
      removed = true;
      stopWith('fast');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresIds() {
  const line = execFileSync('id', ['postgres'], { encoding: 'utf8' });
  const uid = Number(/uid=(\d+)/.exec(line)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(line)?.[1]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error('the postgres system user is missing: install the "postgresql" package');
  }
  return { uid, gid };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startCluster();
  process.stdout.write(`${cluster.url}\n`);
  const stop = () => {
    cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}
