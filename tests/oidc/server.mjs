// One real OpenID Connect provider (npm `oidc-provider`, OpenID Certified) for the gateway's
// integration tests, configured from the environment:
//
//   PORT          required; the provider listens on 127.0.0.1:PORT
//   ISSUER        default `http://127.0.0.1:${PORT}` (compared verbatim by relying parties)
//   CLIENTS       JSON array of {client_id, client_secret, redirect_uris}; each client may use
//                 client_secret_basic or client_secret_post at the token endpoint
//   ID_TOKEN_TTL  ID token lifetime in seconds, default 600
//   JWKS          optional JSON {"keys":[...]} of private signing keys (otherwise development keys
//                 that change at every start)
//   EXIT_ON_STDIN_EOF  "1": exit when stdin closes (the Rust harness holds it open)
//
// Accounts: any login name X is account X (the `sub`), email `X@example.test`, name X;
// `email_verified` is true except for logins starting with `unverified`. Logins starting with
// `wrongaud` get ID tokens whose `aud` is `someone-else` (still signed with the provider's key):
// a misbehaving provider for the relying party's negative tests.
//
// Interactions are the built-in development pages: GET /interaction/<uid> renders a form posting
// `prompt=login&login=X&password=…` (any password) or `prompt=consent` to /interaction/<uid>.
//
// Prints `READY <issuer>` once listening; exits cleanly on SIGTERM / SIGINT.

import { Provider } from 'oidc-provider';

const WRONG_AUDIENCE = 'someone-else';

function fail(message) {
  process.stderr.write(`oidc test provider: ${message}\n`);
  process.exit(2);
}

const port = Number.parseInt(process.env.PORT ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('PORT is required (1..65535)');
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;

let clients;
try {
  clients = JSON.parse(process.env.CLIENTS || '[]');
} catch (e) {
  fail(`CLIENTS is not JSON: ${e.message}`);
}
if (!Array.isArray(clients)) fail('CLIENTS must be a JSON array');
clients = clients.map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
}));

const idTokenTtl = Number.parseInt(process.env.ID_TOKEN_TTL || '600', 10);
if (!Number.isInteger(idTokenTtl) || idTokenTtl <= 0) fail('ID_TOKEN_TTL must be a positive integer');

let jwks;
if (process.env.JWKS) {
  try {
    jwks = JSON.parse(process.env.JWKS);
  } catch (e) {
    fail(`JWKS is not JSON: ${e.message}`);
  }
}

function account(login) {
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        email: `${login}@example.test`,
        email_verified: !login.startsWith('unverified'),
        name: login,
        picture: `https://example.test/avatars/${encodeURIComponent(login)}.png`,
      };
    },
  };
}

const configuration = {
  clients,
  ...(jwks ? { jwks } : {}),
  // Every client may authenticate either way at the token endpoint: the relying party picks.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  async findAccount(ctx, sub) {
    return account(sub);
  },
  claims: {
    acr: null,
    sid: null,
    auth_time: null,
    iss: null,
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  scopes: ['openid', 'email', 'profile'],
  responseTypes: ['code'],
  // Put the granted scopes' claims (email, email_verified, name, …) into the ID token itself, as
  // Google does, and not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: false },
    introspection: { enabled: false },
  },
  ttl: {
    IdToken: idTokenTtl,
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 600,
    Interaction: 600,
    Session: 600,
  },
  cookies: { keys: ['openpeer-gateway-tests-only-cookie-key'] },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);

// The misbehaving-provider hook: for `wrongaud…` accounts, sign the ID token for another
// audience. IdToken#issue takes the `aud` from `this.client.clientId` (it overrides any `aud` in
// the payload), so present it a view of the client with another id for that one call; key
// selection and everything else still come from the real client and the provider's keystore.
const { IdToken } = provider;
const originalIssue = IdToken.prototype.issue;
IdToken.prototype.issue = async function issue(options = {}) {
  const sub = this.available?.sub;
  if (options.use === 'idtoken' && typeof sub === 'string' && sub.startsWith('wrongaud')) {
    const realClient = this.client;
    this.client = Object.create(realClient, { clientId: { value: WRONG_AUDIENCE } });
    try {
      return await originalIssue.call(this, options);
    } finally {
      this.client = realClient;
    }
  }
  return originalIssue.call(this, options);
};

provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc test provider: server_error: ${err?.stack || err}\n`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (e) => fail(`listen on 127.0.0.1:${port}: ${e.message}`));

function shutdown() {
  server.close(() => process.exit(0));
  // Keep-alive connections must not hold the exit up.
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Under a test harness that holds our stdin open: exit when it closes (the harness died).
if (process.env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
