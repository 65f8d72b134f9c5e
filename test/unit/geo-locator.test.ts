// The location reader (src/geo/): both record shapes in use (GeoIP2/GeoLite2 nested records and
// ip-location-db's flat ones) read into one, an IPv4 address written as IPv6 found as IPv4, what is
// not an address or not in the database is null, and the database shipped with Tessera answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundledDatabase, MmdbLocator, type GeoLocation, type Locator } from '../../src/geo/locator.ts';
import { requestLocation } from '../../src/geo/request.ts';
import { cityRecord, writeMmdb } from '../support/mmdb.ts';

describe('the location database', () => {
  it('reads GeoIP2 city records and flat records into {country, region?, city?, latitude?, longitude?}', async () => {
    const path = writeMmdb([
      { cidr: '192.0.2.0/24', record: cityRecord('DE', { region: 'BE', city: 'Berlin', latitude: 52.52, longitude: 13.405 }) },
      { cidr: '198.51.100.0/25', record: cityRecord('us') },
      { cidr: '203.0.113.0/24', record: { country_code: 'FR', state1: 'Île-de-France', city: 'Paris', latitude: 48.8566, longitude: 2.3522 } },
      { cidr: '100.64.0.0/16', record: { country: { iso_code: 'not a country' } } },
    ]);
    const geo = await MmdbLocator.open(path);
    assert.deepEqual(geo.locate('192.0.2.77'), { country: 'DE', region: 'BE', city: 'Berlin', latitude: 52.52, longitude: 13.405 });
    assert.deepEqual(geo.locate('::ffff:192.0.2.77'), geo.locate('192.0.2.77'), 'a dual-stack socket writes IPv4 as IPv6');
    assert.deepEqual(geo.locate('198.51.100.1'), { country: 'US' });
    assert.equal(geo.locate('198.51.100.200'), null, 'outside the /25');
    assert.deepEqual(geo.locate('203.0.113.9'), { country: 'FR', region: 'Île-de-France', city: 'Paris', latitude: 48.8566, longitude: 2.3522 });
    assert.equal(geo.locate('100.64.1.1'), null, 'a record without a usable country is no location');
    for (const nothing of [null, '', 'not an address', '2001:db8::1', '127.0.0.1']) assert.equal(geo.locate(nothing), null, String(nothing));
  });

  it('a file that is not a MaxMind database fails at start, naming GEOIP_DB', async () => {
    await assert.rejects(MmdbLocator.open(new URL(import.meta.url).pathname), /GEOIP_DB: cannot open .* as a MaxMind database/);
  });

  it('the shipped country database (DB-IP Lite) knows a registry address and not loopback', async () => {
    const geo = await MmdbLocator.open(bundledDatabase());
    // 193.0.0.0/21 is the RIPE NCC's own network, in Amsterdam.
    assert.deepEqual(geo.locate('193.0.6.139'), { country: 'NL' });
    assert.deepEqual(geo.locate('::ffff:193.0.6.139'), { country: 'NL' });
    assert.equal(geo.locate('127.0.0.1'), null);
    assert.equal(geo.locate('10.0.0.1'), null);
  });

  it('one request is looked up once, however many lifecycle points ask', async () => {
    const geo = await MmdbLocator.open(writeMmdb([{ cidr: '192.0.2.0/24', record: cityRecord('DE') }]));
    const asked: Array<string | null> = [];
    const counting: Locator = {
      locate(ip): GeoLocation | null {
        asked.push(ip);
        return geo.locate(ip);
      },
    };
    const request = (ip: string) => ({ req: {}, ip }) as never;
    const first = request('192.0.2.5');
    assert.deepEqual(requestLocation(first, counting), { country: 'DE' });
    assert.deepEqual(requestLocation(first, counting), { country: 'DE' });
    const second = request('198.51.100.5');
    assert.equal(requestLocation(second, counting), null);
    assert.equal(requestLocation(second, counting), null, 'an unknown address is remembered too');
    assert.deepEqual(asked, ['192.0.2.5', '198.51.100.5']);
  });
});
