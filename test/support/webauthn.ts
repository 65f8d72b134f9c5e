// A software WebAuthn authenticator for tests without a browser: it makes the answers a browser
// would post (attestation "none", ES256), from the options the pages carry, and can be told to lie
// (another origin, another RP ID, a counter that goes backwards), so that each check of the server
// can be seen refusing. The real-browser tests use Chromium's virtual authenticator instead.
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');

export interface SoftCredential {
  id: Buffer;
  privateKey: KeyObject;
  cose: Uint8Array;
  userHandle: Buffer;
  counter: number;
}

export interface Lies {
  origin?: string;
  rpId?: string;
  /** The counter to report (default: one more than the last). */
  counter?: number;
  /** Report user verification (default true). */
  uv?: boolean;
  /** The challenge to sign (default: the options'). */
  challenge?: string;
}

export class SoftAuthenticator {
  readonly origin: string;
  readonly credentials: SoftCredential[] = [];
  /** Backup eligible and backed up: a synced passkey (amr swk). */
  readonly synced: boolean;

  constructor(origin: string, options: { synced?: boolean } = {}) {
    this.origin = origin;
    this.synced = options.synced ?? false;
  }

  #flags(uv: boolean, attested: boolean): number {
    return 0x01 | (uv ? 0x04 : 0) | (this.synced ? 0x18 : 0) | (attested ? 0x40 : 0);
  }

  #clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** The answer to navigator.credentials.create() with `options` (the page's data-options). */
  create(options: { challenge: string; rp: { id?: string }; user: { id: string } }, lies: Lies = {}): Record<string, unknown> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const id = randomBytes(32);
    const rpId = lies.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const counter = lies.counter ?? 0;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([this.#flags(lies.uv ?? true, true)]), u32(counter), Buffer.alloc(16), idLength, id, Buffer.from(cose)]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    this.credentials.push({ id, privateKey, cose, userHandle: Buffer.from(options.user.id, 'base64url'), counter });
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64url(this.#clientData('webauthn.create', lies.challenge ?? options.challenge, lies.origin ?? this.origin)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** The answer to navigator.credentials.get() with `options`, signed by `credential` (default: the first). */
  get(options: { challenge: string; rpId?: string }, lies: Lies = {}, credential: SoftCredential | undefined = this.credentials[0]): Record<string, unknown> {
    if (!credential) throw new Error('the soft authenticator holds no credential');
    const counter = lies.counter ?? credential.counter + 1;
    credential.counter = Math.max(credential.counter, counter);
    const rpId = lies.rpId ?? options.rpId ?? new URL(this.origin).hostname;
    const authData = Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([this.#flags(lies.uv ?? true, false)]), u32(counter)]);
    const clientData = this.#clientData('webauthn.get', lies.challenge ?? options.challenge, lies.origin ?? this.origin);
    const signer = createSign('sha256');
    signer.update(Buffer.concat([authData, createHash('sha256').update(clientData).digest()]));
    const signature = signer.sign(credential.privateKey);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
      response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: b64url(credential.userHandle) },
    };
  }
}

function u32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
}

/** The WebAuthn options a page's passkey form carries (data-options), HTML entities decoded by the parser. */
export function passkeyOptionsOf(page: { doc: { querySelector(s: string): { getAttribute(n: string): string | undefined } | null } }, formSelector: string): any {
  const form = page.doc.querySelector(formSelector);
  const raw = form?.getAttribute('data-options');
  if (!raw) throw new Error(`no passkey form ${formSelector} on the page`);
  return JSON.parse(raw);
}
