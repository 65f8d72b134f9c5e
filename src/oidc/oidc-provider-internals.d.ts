// The one internal of oidc-provider Tessera calls (key-ring.ts): the function its constructor uses to
// build the keystore and the published JWKS from `jwks`, run again when the keys change.
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}
