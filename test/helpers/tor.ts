/**
 * A private Tor network on 127.0.0.1, made of Debian's `tor` the way test networks are built:
 * three directory authorities (each also a relay) whose keys come from tor-gencert and
 * `tor --list-fingerprint`, two more relays, one onion service and one client with a SOCKS
 * port. TestingTorNetwork shortens every schedule so it is up in well under a minute. It never
 * reaches the public Tor network: every process knows only these authorities (no fallback
 * directories), and exits accept only 127.0.0.0/8.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { freePort, waitFor } from './http.js';
import { tempDir } from './tmp.js';

export const TOR = process.env.P2PCLOUD_TOR ?? '/usr/bin/tor';
export const TOR_GENCERT = process.env.P2PCLOUD_TOR_GENCERT ?? '/usr/bin/tor-gencert';

export interface TorNetwork {
  /** socks5h://127.0.0.1:PORT of the client. */
  readonly proxy: string;
  /** The onion service's name (56 base32 characters + .onion). */
  readonly onion: string;
  /** The notice logs of every process, for a failure's message. */
  logs(): string;
  stop(): Promise<void>;
}

interface TorProcess {
  readonly name: string;
  readonly dir: string;
  child?: ChildProcess;
}

function run(command: string, args: readonly string[], cwd: string, input = ''): string {
  const result = spawnSync(command, args, { cwd, input, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

function privateDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o700);
  return path;
}

/** What every process of the network is configured with. */
function commonConfig(dir: string, name: string, authorities: readonly string[]): string[] {
  return [
    'TestingTorNetwork 1',
    `DataDirectory ${dir}`,
    `Nickname ${name}`,
    'RunAsDaemon 0',
    `Log notice file ${join(dir, 'notice.log')}`,
    'SafeLogging 0',
    'ShutdownWaitLength 0',
    'UseDefaultFallbackDirs 0',
    'ClientUseIPv6 0',
    'Address 127.0.0.1',
    'TestingMinExitFlagThreshold 0',
    ...authorities,
  ];
}

/** Relays of the network exit to this machine only. */
const RELAY = [
  'SocksPort 0',
  'AssumeReachable 1',
  'ExitRelay 1',
  'ExitPolicy accept 127.0.0.0/8:*',
  'ExitPolicy reject *:*',
  'ExitPolicyRejectPrivate 0',
];

/**
 * Starts the network with an onion service whose port 80 leads to 127.0.0.1:`targetPort`, and
 * waits until the client has bootstrapped. The service's descriptor may need some seconds more
 * to be published: callers retry their first connection.
 */
export async function startTorNetwork(targetPort: number): Promise<TorNetwork> {
  const root = tempDir('p2pcloud-tor-');
  const processes: TorProcess[] = [];
  const authorities: string[] = [];
  const authorityPorts: { or: number; dir: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = privateDir(join(root, `a${i}`));
    const keys = privateDir(join(dir, 'keys'));
    const ports = { or: await freePort(), dir: await freePort() };
    authorityPorts.push(ports);
    run(
      TOR_GENCERT,
      ['--create-identity-key', '-m', '12', '-a', `127.0.0.1:${ports.dir}`, '--passphrase-fd', '0'],
      keys,
      '\n',
    );
    const certificate = readFileSync(join(keys, 'authority_certificate'), 'utf8');
    const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(certificate)?.[1];
    if (!v3ident) throw new Error('tor-gencert wrote no fingerprint');
    // TestingTorNetwork refuses to start without authorities of its own; this one is a stand-in
    // for the moment the relay key is made.
    const listed = run(
      TOR,
      [
        '--list-fingerprint',
        '--DataDirectory',
        dir,
        '--ORPort',
        String(ports.or),
        '--Nickname',
        `a${i}`,
        '--TestingTorNetwork',
        '1',
        '--DirAuthority',
        `stand-in orport=1 v3ident=${'0'.repeat(40)} 127.0.0.1:1 ${'0'.repeat(40)}`,
      ],
      dir,
    );
    const fingerprint = /^a\d+ ([0-9A-F ]{40,50})$/m.exec(listed)?.[1]?.replace(/ /g, '');
    if (!fingerprint) throw new Error(`tor --list-fingerprint said: ${listed}`);
    authorities.push(
      `DirAuthority a${i} orport=${ports.or} no-v2 v3ident=${v3ident} 127.0.0.1:${ports.dir} ${fingerprint}`,
    );
    processes.push({ name: `a${i}`, dir });
  }
  const configs = new Map<string, string[]>();
  processes.forEach(({ name, dir }, i) => {
    configs.set(name, [
      ...commonConfig(dir, name, authorities),
      ...RELAY,
      `ORPort 127.0.0.1:${authorityPorts[i]!.or}`,
      `DirPort 127.0.0.1:${authorityPorts[i]!.dir}`,
      'AuthoritativeDirectory 1',
      'V3AuthoritativeDirectory 1',
      `ContactInfo ${name}@test.invalid`,
      'TestingV3AuthInitialVotingInterval 10',
      'TestingV3AuthInitialVoteDelay 2',
      'TestingV3AuthInitialDistDelay 2',
      'V3AuthVotingInterval 10',
      'V3AuthVoteDelay 2',
      'V3AuthDistDelay 2',
      'TestingDirAuthVoteExit *',
      'TestingDirAuthVoteGuard *',
      'TestingDirAuthVoteHSDir *',
    ]);
  });
  for (let i = 0; i < 2; i++) {
    const name = `r${i}`;
    const dir = privateDir(join(root, name));
    processes.push({ name, dir });
    configs.set(name, [
      ...commonConfig(dir, name, authorities),
      ...RELAY,
      `ORPort 127.0.0.1:${await freePort()}`,
    ]);
  }
  const serviceDir = privateDir(join(root, 'hs'));
  const service = privateDir(join(serviceDir, 'service'));
  processes.push({ name: 'hs', dir: serviceDir });
  configs.set('hs', [
    ...commonConfig(serviceDir, 'hs', authorities),
    'SocksPort 0',
    `HiddenServiceDir ${service}`,
    `HiddenServicePort 80 127.0.0.1:${targetPort}`,
  ]);
  const clientDir = privateDir(join(root, 'client'));
  const socksPort = await freePort();
  processes.push({ name: 'client', dir: clientDir });
  configs.set('client', [
    ...commonConfig(clientDir, 'client', authorities),
    `SocksPort 127.0.0.1:${socksPort}`,
  ]);

  const stop = async (): Promise<void> => {
    await Promise.all(
      processes.map(async ({ child }) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }),
    );
  };
  after(stop);
  for (const proc of processes) {
    const torrc = join(proc.dir, 'torrc');
    writeFileSync(torrc, `${configs.get(proc.name)!.join('\n')}\n`);
    proc.child = spawn(TOR, ['-f', torrc], { stdio: 'ignore' });
  }
  const logOf = (proc: TorProcess): string => {
    const path = join(proc.dir, 'notice.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  };
  const logs = (): string =>
    processes.map((p) => `== ${p.name}\n${logOf(p).split('\n').slice(-8).join('\n')}`).join('\n');
  const client = processes.find((p) => p.name === 'client')!;
  const hostname = join(service, 'hostname');
  const up = await waitFor(
    async () => /Bootstrapped 100%/.test(logOf(client)) && existsSync(hostname),
    120_000,
    500,
  );
  if (!up) {
    const why = logs();
    await stop();
    throw new Error(`the private Tor network did not come up in 120 s:\n${why}`);
  }
  return {
    proxy: `socks5h://127.0.0.1:${socksPort}`,
    onion: readFileSync(hostname, 'utf8').trim(),
    logs,
    stop,
  };
}
