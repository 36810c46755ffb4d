/**
 * What opens a process's connections to nodes: keep-alive pools, direct or through a proxy.
 * Its own module so that the HTTP calls and the proxy that builds one share it without
 * importing each other.
 */
import type http from 'node:http';
import type https from 'node:https';

/** Keep-alive connection pools, with an optional rule on the addresses they may connect to. */
export interface Connector {
  readonly http: http.Agent;
  readonly https: https.Agent;
  /**
   * Whether a connection to this IP address may be made; absent: any address. Through a proxy
   * it is applied to literal addresses in URLs only: the proxy resolves names.
   */
  readonly allows?: (address: string) => boolean;
  /** The socks5h:// proxy every connection goes through; absent: direct connections. */
  readonly proxy?: string;
}
