/**
 * Loaded into a process under test (node --import) to write down, in the file named by
 * P2PCLOUD_NET_WATCH, every name it asks the resolver for ("lookup NAME") and every TCP
 * connection it opens ("connect HOST:PORT"), one line each. It changes nothing the process
 * does: a test reads the file to see where the process went, and what it had resolved.
 */
import dns from 'node:dns';
import net from 'node:net';
import { appendFileSync } from 'node:fs';

const file = process.env.P2PCLOUD_NET_WATCH;

function note(line: string): void {
  if (file) appendFileSync(file, `${line}\n`);
}

const lookup = dns.lookup;
dns.lookup = function (hostname: string, ...rest: unknown[]) {
  note(`lookup ${hostname}`);
  return (lookup as (...args: unknown[]) => unknown).call(dns, hostname, ...rest);
} as typeof dns.lookup;

const promisesLookup = dns.promises.lookup;
dns.promises.lookup = function (hostname: string, ...rest: unknown[]) {
  note(`lookup ${hostname}`);
  return (promisesLookup as (...args: unknown[]) => unknown).call(dns.promises, hostname, ...rest);
} as typeof dns.promises.lookup;

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  const options =
    typeof first === 'object' && first !== null
      ? (first as { host?: string; port?: number; path?: string })
      : { port: Number(first), host: typeof args[1] === 'string' ? args[1] : undefined };
  note(
    options.path
      ? `connect ${options.path}`
      : `connect ${options.host ?? 'localhost'}:${options.port}`,
  );
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
