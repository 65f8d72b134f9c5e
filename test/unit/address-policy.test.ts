// The outbound address policy, without a server or a socket: which addresses a hook's fetch or a
// webhook may reach unless its host is listed (and why not), in every form an address can be
// written in, and how "host[:port]" entries are read and matched.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressRefusal, bareHostname, canonicalHostname, isHostEntry, isListed, isPublicAddress, parseAllowedHosts, parseHostEntry, parseIPv6 } from '../../src/net/address-policy.ts';

describe('address classes', () => {
  test('IPv4: loopback, private, CGNAT, link-local (the metadata address), and the other special ranges are refused, naming the class', () => {
    const table: Array<[string, string]> = [
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['10.0.0.1', 'private'],
      ['10.255.255.255', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'shared (CGNAT)'],
      ['100.127.255.255', 'shared (CGNAT)'],
      ['169.254.169.254', 'link-local'],
      ['169.254.0.1', 'link-local'],
      ['0.0.0.0', 'unspecified ("this network")'],
      ['0.1.2.3', 'unspecified ("this network")'],
      ['192.0.0.1', 'IETF protocol assignments'],
      ['192.0.2.1', 'documentation'],
      ['198.51.100.7', 'documentation'],
      ['203.0.113.9', 'documentation'],
      ['192.88.99.1', '6to4 relay anycast'],
      ['198.18.0.1', 'benchmarking'],
      ['198.19.255.255', 'benchmarking'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['240.0.0.1', 'reserved / broadcast'],
      ['255.255.255.255', 'reserved / broadcast'],
    ];
    for (const [address, why] of table) assert.equal(addressRefusal(address), why, address);
  });

  test('IPv4: the neighbours of each range are public', () => {
    for (const address of [
      '8.8.8.8',
      '93.184.216.34',
      '9.255.255.255',
      '11.0.0.0',
      '172.15.255.255',
      '172.32.0.1',
      '100.63.255.255',
      '100.128.0.1',
      '169.253.255.255',
      '169.255.0.1',
      '192.167.255.255',
      '192.169.0.1',
      '198.17.255.255',
      '198.20.0.1',
      '223.255.255.255',
      '1.0.0.1',
    ]) {
      assert.equal(addressRefusal(address), null, address);
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  test('IPv6: loopback, unspecified, unique local (the metadata address), link-local and the other special ranges are refused', () => {
    const table: Array<[string, string]> = [
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['0:0:0:0:0:0:0:1', 'loopback'],
      ['::', 'unspecified'],
      ['fd00:ec2::254', 'unique local (private)'],
      ['fc00::1', 'unique local (private)'],
      ['fe80::1', 'link-local'],
      ['febf::1', 'link-local'],
      ['fec0::1', 'site-local (deprecated)'],
      ['ff02::1', 'multicast'],
      ['2001:db8::1', 'documentation'],
      ['2001::1', 'Teredo'],
      ['2001:10::1', 'ORCHID'],
      ['100::1', 'discard-only'],
      ['4000::1', 'not global unicast'],
      ['fe80::1%eth0', 'scoped (zone) address'],
    ];
    for (const [address, why] of table) assert.equal(addressRefusal(address), why, address);
  });

  test('IPv6 forms that embed an IPv4 address are judged as that address: mapped, translated, NAT64, 6to4', () => {
    const table: Array<[string, string | null]> = [
      ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
      ['::ffff:7f00:1', 'IPv4-mapped loopback'],
      ['[::ffff:10.0.0.1]', 'IPv4-mapped private'],
      ['::FFFF:169.254.169.254', 'IPv4-mapped link-local'],
      ['0:0:0:0:0:ffff:c0a8:101', 'IPv4-mapped private'],
      ['::ffff:8.8.8.8', null],
      ['::ffff:0:127.0.0.1', 'IPv4-translated loopback'],
      ['::ffff:0:8.8.8.8', null],
      ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
      ['64:ff9b::a9fe:a9fe', 'NAT64 link-local'],
      ['64:ff9b::a00:1', 'NAT64 private'],
      ['64:ff9b::808:808', null],
      ['64:ff9b:1::1', 'NAT64 local use'],
      ['2002:7f00:1::1', '6to4 loopback'],
      ['2002:a9fe:a9fe::1', '6to4 link-local'],
      ['2002:808:808::1', null],
      // The deprecated IPv4-compatible form is refused whatever it embeds.
      ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
      ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ];
    for (const [address, why] of table) assert.equal(addressRefusal(address), why, address);
  });

  test('public IPv6 addresses pass', () => {
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4007:80e::200e', '[2001:4860:4860::8888]', '3fff:ffff::1']) {
      assert.equal(addressRefusal(address), null, address);
    }
  });

  test('what is not one IP address is refused: names, shorthand and octal IPv4, garbage', () => {
    for (const text of ['localhost', 'example.com', '127.1', '0177.0.0.1', '0x7f.0.0.1', '2130706433', '1.2.3.4.5', '256.0.0.1', '', ' 127.0.0.1', '1::2::3']) {
      assert.ok(['not an IP address', 'unparseable address'].includes(String(addressRefusal(text))), `${JSON.stringify(text)}: ${addressRefusal(text)}`);
      assert.equal(isPublicAddress(text), false, text);
    }
  });

  test('parseIPv6 expands every written form to eight groups', () => {
    assert.deepEqual(parseIPv6('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(parseIPv6('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(parseIPv6('fe80::1:2'), [0xfe80, 0, 0, 0, 0, 0, 1, 2]);
    assert.deepEqual(parseIPv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    assert.deepEqual(parseIPv6('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]);
    for (const bad of ['1::2::3', '1:2:3', '12345::', 'not', '127.0.0.1']) assert.equal(parseIPv6(bad), null, bad);
  });
});

describe('host entries', () => {
  test('isHostEntry: one host or host:port, IPv6 in brackets; wildcards, URLs, paths, CIDR and bad ports are refused', () => {
    for (const entry of ['hooks.internal', 'hooks.internal:8443', '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:9000', 'a-b.example.com:1', 'x:65535']) {
      assert.equal(isHostEntry(entry), true, entry);
    }
    for (const entry of ['*.internal', 'http://hooks.internal', 'hooks.internal/path', '10.0.0.0/8', 'x:0', 'x:65536', 'x:99999', '::1', 'user@host', 'a b', '', ':80', 'host:']) {
      assert.equal(isHostEntry(entry), false, entry);
    }
  });

  test('parseHostEntry reads the canonical hostname and the port; parseAllowedHosts skips what does not parse', () => {
    assert.deepEqual(parseHostEntry('API.Example.com'), { hostname: 'api.example.com', port: null });
    assert.deepEqual(parseHostEntry(' crm.example.com:8443 '), { hostname: 'crm.example.com', port: 8443 });
    assert.deepEqual(parseHostEntry('127.1'), { hostname: '127.0.0.1', port: null });
    assert.deepEqual(parseHostEntry('[::FFFF:127.0.0.1]:80'), { hostname: '[::ffff:7f00:1]', port: 80 });
    for (const bad of ['x:0', 'x:70000', 'bad/host', 'a@b', '']) assert.equal(parseHostEntry(bad), null, bad);
    assert.deepEqual(parseAllowedHosts(['A.test', 'bad/host', 'b.test:81']), [
      { hostname: 'a.test', port: null },
      { hostname: 'b.test', port: 81 },
    ]);
    assert.deepEqual(parseAllowedHosts(null), []);
  });

  test('canonicalHostname and bareHostname', () => {
    assert.equal(canonicalHostname('EXAMPLE.com'), 'example.com');
    assert.equal(canonicalHostname('127.1'), '127.0.0.1');
    assert.equal(canonicalHostname('0x7f.1'), '127.0.0.1');
    assert.equal(canonicalHostname('[0:0::1]'), '[::1]');
    assert.equal(canonicalHostname('bad host'), null);
    assert.equal(bareHostname('[::1]'), '::1');
    assert.equal(bareHostname('example.com'), 'example.com');
  });

  test('isListed: the host and the port must match; an entry without a port allows the default port only', () => {
    const rules = parseAllowedHosts(['hooks.internal', 'crm.internal:8443', '127.1', '[::1]:9000']);
    const listed = [
      'https://hooks.internal/x',
      'http://hooks.internal/',
      'http://HOOKS.internal:80/',
      'https://crm.internal:8443/',
      'http://crm.internal:8443/',
      'http://127.0.0.1/',
      'http://[::1]:9000/',
    ];
    const unlisted = [
      'https://hooks.internal:8443/',
      'http://hooks.internal:8080/',
      'https://crm.internal/',
      'http://127.0.0.1:8080/',
      'http://[::1]/',
      'http://sub.hooks.internal/',
      'http://hooks.internal.evil.test/',
      'http://localhost/',
    ];
    for (const url of listed) assert.equal(isListed(rules, new URL(url)), true, url);
    for (const url of unlisted) assert.equal(isListed(rules, new URL(url)), false, url);
  });
});
