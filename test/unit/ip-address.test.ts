/**
 * Private addresses in every spelling a peer URL or a resolved name can take, including IPv6
 * forms that carry an IPv4 address, and the /64 a rate-limit counter groups IPv6 senders by.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddedIPv4, ipv6Groups } from '../../src/http/ip-address.js';
import { addressKey } from '../../src/http/rate-limit.js';
import { checkPeerUrl, isPrivateHost } from '../../src/sync/peer-url.js';

test('IPv6 groups: :: expanded, a dotted IPv4 tail as two groups, zones dropped', () => {
  assert.deepEqual(ipv6Groups('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('::ffff:127.0.0.1'), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  assert.deepEqual(
    ipv6Groups('2001:DB8::8:800:200C:417A'),
    [0x2001, 0xdb8, 0, 0, 0x8, 0x800, 0x200c, 0x417a],
  );
  assert.deepEqual(ipv6Groups('fe80::1%eth0'), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(ipv6Groups('127.0.0.1'), undefined);
  assert.equal(ipv6Groups('example.org'), undefined);
});

test('the IPv4 address inside mapped, compatible, translated, NAT64 and 6to4 forms', () => {
  const inner = (address: string) => embeddedIPv4(ipv6Groups(address)!);
  assert.equal(inner('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(inner('::7f00:1'), '127.0.0.1');
  assert.equal(inner('::ffff:0:7f00:1'), '127.0.0.1');
  assert.equal(inner('64:ff9b::7f00:1'), '127.0.0.1');
  assert.equal(inner('2002:7f00:1::'), '127.0.0.1');
  assert.equal(inner('2002:808:808::1'), '8.8.8.8');
  assert.equal(inner('2606:4700::1111'), undefined);
});

test('private hosts in every spelling are refused; public ones pass', () => {
  const refused = [
    '[::7f00:1]',
    '[::ffff:0:7f00:1]',
    '[64:ff9b::7f00:1]',
    '[64:ff9b:1::1]',
    '[2002:7f00:1::]',
    '[2002:a00:1::]',
    '[fec0::1]',
    '[ff02::1]',
    '[2001:db8::1]',
    '[2001::1]',
    '[100::1]',
    '[::]',
    '[::1]',
    '[::ffff:7f00:1]',
    '[fd00::1]',
    '[fe80::1]',
    '198.18.0.1',
    '198.19.255.1',
    '192.0.0.1',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '127.0.0.1',
    '10.1.2.3',
    'localhost',
  ];
  for (const host of refused) {
    assert.equal(isPrivateHost(host), true, host);
    const check = checkPeerUrl(`http://${host}:7447`, false);
    assert.equal(check.ok, false, host);
  }
  for (const host of [
    '8.8.8.8',
    '198.20.0.1',
    '192.0.1.1',
    '[2606:4700::1111]',
    '[2002:808:808::]',
  ]) {
    assert.equal(isPrivateHost(host), false, host);
    assert.equal(checkPeerUrl(`http://${host}:7447`, false).ok, true, host);
  }
  // Spellings the URL parser turns into a loopback address are caught after parsing.
  for (const url of [
    'http://0x7f000001:7447',
    'http://127.1:7447',
    'http://[::ffff:127.0.0.1]:1',
  ]) {
    assert.equal(checkPeerUrl(url, false).ok, false, url);
  }
});

test('rate-limit counters group IPv6 senders by /64 in every spelling', () => {
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0DB8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(addressKey('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(addressKey('10.0.0.1'), '10.0.0.1');
});
