// A real OpenID Connect provider (npm oidc-provider) for the SSO tests, on
// a free loopback port, with one static confidential
// client that must use PKCE S256 and accounts whose claims the test gives.
//
// Started by oidctest.Start as: node provider.mjs, with
//   OIDC_PROVIDER_MODULES  the node_modules folder holding oidc-provider
//   OIDC_TEST_CONFIG       JSON {client_id, client_secret, redirect_uri,
//                          accounts: {login: {claims...}}}
// It prints "issuer http://127.0.0.1:PORT" once it listens. Its login page
// (devInteractions) takes an account's login with any password; the test
// then confirms the consent page.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.OIDC_PROVIDER_MODULES;
const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const { default: Provider } = await import(pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href);

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: [cfg.redirect_uri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { methods: ['S256'], required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['oidc-test-cookie-key'] },
  async findAccount(ctx, id) {
    const account = cfg.accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});
// The test talks plain http on loopback.
provider.proxy = false;

server.on('request', provider.callback());
process.stdout.write(`issuer ${issuer}\n`);
