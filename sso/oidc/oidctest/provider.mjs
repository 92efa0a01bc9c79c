// A real OpenID Connect provider (npm oidc-provider) for the SSO tests, on
// a free loopback port, with one confidential
// client that must use PKCE S256 and accounts whose claims the test gives.
//
// Started by oidctest.Start as: node provider.mjs, with
//   OIDC_PROVIDER_MODULES  the node_modules folder holding oidc-provider
//   OIDC_TEST_CONFIG       JSON {client_id, client_secret, redirect_uri,
//                          accounts: {login: {claims...}}}
// It prints "issuer http://127.0.0.1:PORT" once it listens. Its login page
// (devInteractions) takes an account's login with any password; the test
// then confirms the consent page.
//
// A line "redirect_uri URI" on its standard input registers another
// redirect URI for the client (a gateway connection's callback, known only
// once the connection exists); it answers "redirect_uri added URI".
import http from 'node:http';
import readline from 'node:readline';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.OIDC_PROVIDER_MODULES;
const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const { default: Provider } = await import(pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href);
const { default: MemoryAdapter } = await import(pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'adapters', 'memory_adapter.js')).href);

// The client is kept here rather than among the configuration's static
// clients (fixed at start, and refused with no redirect URI), so a line on
// standard input can give it another redirect URI: the provider builds the
// client again from changed metadata.
const clients = new Map();
class Adapter extends MemoryAdapter {
  async find(id) {
    return this.model === 'Client' ? clients.get(id) : super.find(id);
  }
}
const redirectURIs = cfg.redirect_uri ? [cfg.redirect_uri] : [];
function storeClient() {
  if (redirectURIs.length === 0) return;
  clients.set(cfg.client_id, {
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: [...redirectURIs],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
}
storeClient();

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: Adapter,
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

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, uri] = line.split(' ');
  if (cmd !== 'redirect_uri' || !uri) {
    process.stderr.write(`unknown command: ${line}\n`);
    return;
  }
  if (!redirectURIs.includes(uri)) redirectURIs.push(uri);
  storeClient();
  process.stdout.write(`redirect_uri added ${uri}\n`);
});
process.stdout.write(`issuer ${issuer}\n`);
