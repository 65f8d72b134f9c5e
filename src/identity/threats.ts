// Threat signals at sign-in (CONTRACT §9): a device the user has not signed in from before (a
// long-lived device cookie, stored only as its SHA-256), a sign-in implausibly far from the last one
// in the time between them (the location database's coordinates: a country-only database gives
// none, so no impossible travel is ever found with it), and a breached password (breached-passwords.ts,
// flagged by the password step). The flows read the signals before after_login (event.device,
// event.risk) and write them with the login record, with their webhook events.
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { Db } from '../db/knex.ts';
import type { GeoLocation } from '../geo/locator.ts';
import { recordEvent } from '../webhooks/outbox.ts';

/** The device cookie's name (its value: 32 random bytes, base64url, signed). */
export const DEVICE_COOKIE = 'tessera_device';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface HookDevice {
  /** Stable for this browser (not the cookie's value). */
  id: string;
  /** The user never signed in from it before. */
  new: boolean;
}

export interface ImpossibleTravel {
  from: { country: string; city: string | null; at: string };
  to: { country: string; city: string | null };
  distance_km: number;
  hours: number;
  speed_kmh: number;
}

export interface HookRisk {
  new_device: boolean;
  impossible_travel: boolean;
  breached_password: boolean;
  /** The two sign-ins, when impossible_travel. */
  travel: ImpossibleTravel | null;
}

/** What a sign-in's signals are, read before the login completes; `record` writes them. */
export interface SignInSignals {
  device: HookDevice;
  risk: HookRisk;
  /** The cookie to set when the browser had none (or a malformed one). */
  newToken: string | null;
  deviceHash: string;
  location: GeoLocation | null;
}

export function newDeviceToken(): string {
  return randomBytes(32).toString('base64url');
}

function hashOf(token: string): string {
  return createHash('sha256').update(`tessera-device:${token}`).digest('hex');
}

/** Great-circle distance in km (haversine). */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

export class ThreatSignals {
  readonly #db: Db;
  readonly #settings: Config['threats'];

  constructor(db: Db, settings: Config['threats']) {
    this.#db = db;
    this.#settings = settings;
  }

  get cookieMaxAgeMs(): number {
    return this.#settings.deviceCookieDays * 86_400_000;
  }

  /**
   * The signals of a sign-in by `userId` from a browser with `cookie` (the device cookie's value, if
   * any) at `location`, `breached` as the password step found. Reads only.
   */
  async assess(userId: string, cookie: string | undefined, location: GeoLocation | null, breached: boolean, now = Date.now()): Promise<SignInSignals> {
    const token = cookie && TOKEN.test(cookie) ? cookie : null;
    const newToken = token ? null : newDeviceToken();
    const deviceHash = hashOf(token ?? newToken!);
    const known = token ? await this.#db('user_devices').where({ user_id: userId, device_hash: deviceHash }).first('user_id') : undefined;
    const travel = await this.#travel(userId, location, now);
    const isNew = !known;
    return {
      device: { id: deviceHash.slice(0, 32), new: isNew },
      risk: { new_device: isNew, impossible_travel: travel !== null, breached_password: breached, travel },
      newToken,
      deviceHash,
      location,
    };
  }

  async #travel(userId: string, location: GeoLocation | null, now: number): Promise<ImpossibleTravel | null> {
    if (location?.latitude === undefined || location.longitude === undefined) return null;
    const last = await this.#db('user_sign_in_locations').where({ user_id: userId }).first();
    if (!last) return null;
    const from = { latitude: Number(last.latitude), longitude: Number(last.longitude) };
    const distance = distanceKm(from, { latitude: location.latitude, longitude: location.longitude });
    if (distance < this.#settings.impossibleTravelMinKm) return null;
    // At least a minute between them: two sign-ins in the same second are not infinitely fast.
    const hours = Math.max(now - Number(last.signed_in_at), 60_000) / 3_600_000;
    const speed = distance / hours;
    if (speed <= this.#settings.impossibleTravelKmh) return null;
    return {
      from: { country: String(last.country), city: (last.city as string | null) ?? null, at: new Date(Number(last.signed_in_at)).toISOString() },
      to: { country: location.country, city: location.city ?? null },
      distance_km: Math.round(distance),
      hours: Math.round(hours * 1000) / 1000,
      speed_kmh: Math.round(speed),
    };
  }

  /**
   * Inside the login's transaction: the device is known from now on, this sign-in's location is the
   * last one, and the events (user.login.new-device, user.login.suspicious) are written.
   */
  async record(tx: Knex.Transaction, userId: string, applicationId: string | null, signals: SignInSignals, request: { ip: string | null }, now = Date.now()): Promise<void> {
    const { deviceHash, location } = signals;
    const updated = await tx('user_devices').where({ user_id: userId, device_hash: deviceHash }).update({ last_seen_at: now });
    if (updated === 0) {
      await tx('user_devices').insert({ user_id: userId, device_hash: deviceHash, first_seen_at: now, last_seen_at: now }).onConflict(['user_id', 'device_hash']).merge({ last_seen_at: now });
    }
    if (location?.latitude !== undefined && location.longitude !== undefined) {
      const row = { signed_in_at: now, country: location.country, city: location.city ?? null, latitude: location.latitude, longitude: location.longitude };
      await tx('user_sign_in_locations')
        .insert({ user_id: userId, ...row })
        .onConflict('user_id')
        .merge(row);
    }
    const where = { ip: request.ip, location };
    if (signals.device.new) await recordEvent(tx, 'user.login.new-device', { user_id: userId, application_id: applicationId, device: signals.device, request: where });
    if (signals.risk.impossible_travel) {
      await recordEvent(tx, 'user.login.suspicious', { user_id: userId, application_id: applicationId, risk: signals.risk, request: where });
    }
  }

  /** Forgets devices unseen for longer than their cookie lives (that browser's cookie is gone too). */
  prune(now = Date.now()): Promise<number> {
    return this.#db('user_devices')
      .where('last_seen_at', '<', now - this.cookieMaxAgeMs)
      .delete();
  }

  /** A sign-in with a password of the breached corpus (the password was right). */
  async recordBreach(userId: string, applicationId: string | null): Promise<void> {
    await this.#db.transaction((tx) => recordEvent(tx, 'user.password.breach', { user_id: userId, application_id: applicationId }));
  }
}
