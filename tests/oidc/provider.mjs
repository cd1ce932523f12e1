// A real OpenID provider (oidc-provider, a certified implementation) on loopback for Trellis's
// single sign-on tests. Prints `listening <issuer>` once it serves. Its client and people are
// set by the test through a loopback-only endpoint:
//   PUT /_test/client    {"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris"}
//   PUT /_test/accounts  {"<sub>": {"email", "email_verified", "name"}, ...}
//   PUT /_test/tamper    {"id_token": true}  spoils the next ID tokens' signatures
// With PROVIDER_CLAIMS=userinfo in its environment it keeps the e-mail and name out of the ID
// token and tells them only at its userinfo endpoint, as the specification's default says.
// It exits when its standard input closes (the test is over).
import http from 'node:http';
import Provider from 'oidc-provider';

let accounts = {};
let tamper = false;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [],
  cookies: { keys: ['trellis-test-only-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The e-mail in the ID token itself, as most providers send it for the email scope.
  conformIdTokenClaims: process.env.PROVIDER_CLAIMS === 'userinfo',
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const person = accounts[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...person }; } };
  },
});
provider.on('server_error', (ctx, error) => console.error('provider error', error));

provider.use(async (ctx, next) => {
  await next();
  if (tamper && ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    const [head, body, signature] = ctx.body.id_token.split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    ctx.body = { ...ctx.body, id_token: `${head}.${body}.${flipped}` };
  }
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (req.url.startsWith('/_test/')) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const value = JSON.parse(body || '{}');
    if (req.url === '/_test/client') {
      await provider.Client.adapter.upsert(value.client_id, {
        ...value,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      });
    } else if (req.url === '/_test/accounts') {
      accounts = value;
    } else if (req.url === '/_test/tamper') {
      tamper = Boolean(value.id_token);
    }
    res.writeHead(204).end();
    return;
  }
  callback(req, res);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.stdout.write(`listening ${issuer}\n`);
// The test reads only that line: whatever the provider says later goes to standard error.
process.stdout.on('error', () => {});
for (const name of ['log', 'info', 'warn']) console[name] = console.error;
