/**
 * The proxy settings of node and gateway configurations: socks5h:// only, normalised, and onion
 * peers or nodes refused without one (proxy_required), before anything starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeConfig } from '../../src/node/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { P2PError } from '../../src/errors.js';

const ONION = `http://${'e'.repeat(56)}.onion`;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof P2PError, String(error));
    return `${error.code}: ${error.message}`;
  }
  return 'no error';
}

test('node config: proxy is socks5h:// and needed for onion peers', () => {
  assert.equal(parseNodeConfig({}).proxy, null);
  const config = parseNodeConfig({ proxy: 'SOCKS5H://127.0.0.1:9050/', peers: [ONION] });
  assert.equal(config.proxy, 'socks5h://127.0.0.1:9050');
  assert.deepEqual(config.peers, [ONION]);
  assert.match(
    codeOf(() => parseNodeConfig({ proxy: 'socks5://127.0.0.1:9050' })),
    /^bad_config: invalid node config: proxy: .*resolves host names on this machine/,
  );
  assert.match(
    codeOf(() => parseNodeConfig({ peers: ['http://127.0.0.1:7448', ONION] })),
    /^proxy_required: peer http:\/\/e{56}\.onion is an onion address/,
  );
  // A node may announce an onion URL without a proxy of its own: others dial it.
  assert.deepEqual(parseNodeConfig({ public_urls: [ONION] }).public_urls, [ONION]);
});

test('gateway config: proxy is socks5h:// and needed for onion nodes', () => {
  const base = { data_dir: '/tmp/unused', key_file: '/tmp/unused.key' };
  assert.equal(parseGatewayConfig({ ...base, nodes: ['http://127.0.0.1:7447'] }).proxy, null);
  const config = parseGatewayConfig({ ...base, nodes: [ONION], proxy: 'socks5h://[::1]:9050' });
  assert.equal(config.proxy, 'socks5h://[::1]:9050');
  assert.match(
    codeOf(() => parseGatewayConfig({ ...base, nodes: [ONION] })),
    /^proxy_required: node http:\/\/e{56}\.onion is an onion address/,
  );
  assert.match(
    codeOf(() => parseGatewayConfig({ ...base, nodes: [ONION], proxy: 'http://127.0.0.1:8080' })),
    /^bad_config: invalid gateway config: proxy: .*is not a SOCKS5 proxy URL/,
  );
});
