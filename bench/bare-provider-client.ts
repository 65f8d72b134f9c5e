// The static client of the bare oidc-provider baseline (shared by the server script and the bench).
export const BARE_CLIENT = { client_id: 'bench', client_secret: 'bench-secret-0123456789' };
