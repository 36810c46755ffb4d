/**
 * The direct path (docs/tunnels.md §6): an exposing device may listen on a TCP port of its
 * own and advertise "host:port" through the relay; a connecting device that can reach it
 * opens the secure channel over that socket instead of a relay leg.
 */
import { connect, type Socket } from 'node:net';
import { P2PError } from '../../errors.js';

/** "host:port" as advertised (an IPv6 host in brackets), or undefined when it is not one. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A TCP connection to an advertised address, or a P2PError once `timeoutMs` has passed. */
export function dialDirect(address: string, timeoutMs: number): Promise<Socket> {
  const target = parseHostPort(address);
  if (!target) {
    return Promise.reject(
      new P2PError('tunnel_unreachable', `not a direct address: ${address.slice(0, 80)}`),
    );
  }
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new P2PError('tunnel_unreachable', `${address} did not answer within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(new P2PError('tunnel_unreachable', `${address}: ${error.message}`));
    };
    socket.once('error', onError);
  });
}
