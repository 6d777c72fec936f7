// A real OAuth2 authorization server (oidc-provider) and a webhook receiver
// that accepts only its tokens, both on 127.0.0.1, for callhook's end-to-end
// test (`callhook-tests/tests/oauth2_server.rs`). Test use only: keys and
// secrets are made at start-up and live in memory.
//
//   node server.mjs [--port N] [--receiver-port N] [--access-ttl S]
//                   [--brief-access-ttl S] [--refresh-ttl S]
//
// Ports default to 0 (the system picks). When both servers listen, one line
// of JSON starting with `{"ready":` goes to stdout with everything a client
// needs (endpoints, client credentials, a first refresh token); other lines
// on stdout are oidc-provider's notices. The process ends when stdin closes
// (its parent died or let go), on SIGTERM or on SIGINT.

import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'receiver-port': { type: 'string', default: '0' },
    // Tokens of the `callhook` client: long enough for a whole test run.
    'access-ttl': { type: 'string', default: '300' },
    // Tokens of the `callhook-brief` client: short, so a test sees expiry,
    // yet at least 2 s from issue to expiry (the server counts whole
    // seconds), so that a loaded machine still uses them in time.
    'brief-access-ttl': { type: 'string', default: '3' },
    'refresh-ttl': { type: 'string', default: '3600' },
  },
});

function positive(name) {
  const value = Number(args[name]);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`--${name} must be a whole number, not ${JSON.stringify(args[name])}`);
  }
  return value;
}

const port = positive('port');
const receiverPort = positive('receiver-port');
const accessTtl = positive('access-ttl');
const briefAccessTtl = positive('brief-access-ttl');
const refreshTtl = positive('refresh-ttl');
if (accessTtl === 0 || briefAccessTtl === 0 || refreshTtl === 0) {
  throw new Error('token lifetimes must be at least 1 second');
}

// The receiver is the one resource server: client-credentials and refreshed
// tokens are issued for it, with this scope.
const RESOURCE = 'urn:callhook:receiver';
const SCOPE = 'webhooks:write';
// The account the minted refresh token belongs to.
const ACCOUNT = 'callhook-test-account';

// Client secrets carry characters that RFC 6749 §2.3.1 asks a client to
// form-encode inside HTTP Basic (`:`, `+`, `%`, space) and that break a
// body built without encoding (`&`, `=`), so a client that skips either
// step fails here rather than against a real receiver later.
const hostile = ' :+%&=/';
const secret = () => `${crypto.randomBytes(24).toString('base64url')}${hostile}`;

const clients = {
  callhook: { id: 'callhook', secret: secret(), ttl: accessTtl },
  brief: { id: 'callhook-brief', secret: secret(), ttl: briefAccessTtl },
  // The receiver authenticates to the introspection endpoint.
  receiver: { id: 'receiver', secret: secret() },
};
const ttlOf = new Map([
  [clients.callhook.id, accessTtl],
  [clients.brief.id, briefAccessTtl],
]);

const confidential = (client, grants) => ({
  client_id: client.id,
  client_secret: client.secret,
  // A client registered for `client_secret_basic` may also authenticate
  // with `client_secret_post` in oidc-provider: both are tested.
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: grants,
  response_types: [],
  redirect_uris: [],
  scope: `offline_access ${SCOPE}`,
  // The one signing key is ES256 (none is issued, but the field is checked).
  id_token_signed_response_alg: 'ES256',
});

// Listen first: the issuer's URL holds the port the system chose.
let providerCallback = (_req, res) => {
  res.writeHead(503).end();
};
const providerServer = http.createServer((req, res) => providerCallback(req, res));
await listen(providerServer, port);
const issuer = `http://127.0.0.1:${providerServer.address().port}`;

// A signing key for ID tokens, made now rather than oidc-provider's
// development key (none is issued here, but the provider needs one).
const signingKey = {
  ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  alg: 'ES256',
  use: 'sig',
  kid: 'test',
};

const provider = new Provider(issuer, {
  clients: [
    confidential(clients.callhook, ['client_credentials', 'refresh_token']),
    confidential(clients.brief, ['client_credentials', 'refresh_token']),
    { ...confidential(clients.receiver, []), scope: undefined },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', SCOPE],
  findAccount: async (_ctx, sub) => (sub === ACCOUNT
    ? { accountId: sub, claims: async () => ({ sub }) }
    : undefined),
  // Every refresh consumes the token and issues a new one; presenting a
  // consumed token is `invalid_grant` and revokes the whole grant
  // (RFC 9700 §4.14.2: refresh token rotation with reuse detection).
  rotateRefreshToken: true,
  ttl: {
    RefreshToken: refreshTtl,
    Grant: refreshTtl,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the receiver (the resource server) and a token's own client
      // learn about a token.
      allowedPolicy: async (_ctx, client, token) => client.clientId === clients.receiver.id
        || client.clientId === token.clientId,
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A token request without `resource` is for the receiver.
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator, client) => {
        if (indicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: SCOPE,
          accessTokenTTL: ttlOf.get(client.clientId) ?? accessTtl,
          // Opaque: the receiver asks the introspection endpoint.
          accessTokenFormat: 'opaque',
        };
      },
    },
  },
});
providerCallback = provider.callback();

// A first refresh token without a browser: oidc-provider issues refresh
// tokens through the authorization code flow only, so one is minted here
// through its models, as the code flow would leave it (a grant of
// `offline_access` and the receiver's scope to the test account).
async function mintRefreshToken(clientId) {
  const client = await provider.Client.find(clientId);
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(RESOURCE, SCOPE);
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId: ACCOUNT,
    client,
    grantId,
    gty: 'authorization_code',
    scope: `offline_access ${SCOPE}`,
    resource: RESOURCE,
  });
  return token.save();
}

// The receiver: `POST /hook` with a bearer token the provider says is active
// for the receiver and its scope is 200, anything else 401; every request is
// recorded and `GET /received` lists them.
const received = [];
const LARGEST_BODY = 1024 * 1024;

async function introspect(token) {
  const basic = Buffer.from(
    `${encodeURIComponent(clients.receiver.id)}:${formEncode(clients.receiver.secret)}`,
  ).toString('base64');
  const response = await fetch(`${issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) {
    throw new Error(`introspection answered ${response.status}: ${await response.text()}`);
  }
  return response.json();
}

// `application/x-www-form-urlencoded` as RFC 6749 §2.3.1 asks for Basic.
function formEncode(value) {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    req.on('data', (chunk) => {
      length += chunk.length;
      if (length > LARGEST_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

async function receive(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/received') {
    json(res, 200, received);
    return;
  }
  if (req.method !== 'POST' || url.pathname !== '/hook') {
    json(res, 404, { error: 'not_found' });
    return;
  }
  const body = await readBody(req);
  const authorization = req.headers.authorization ?? '';
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization);
  let verdict = { active: false };
  if (match) {
    verdict = await introspect(match[1]);
  }
  const audiences = [verdict.aud ?? []].flat();
  const accepted = verdict.active === true
    && audiences.includes(RESOURCE)
    && (verdict.scope ?? '').split(' ').includes(SCOPE);
  received.push({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: body.toString('utf8'),
    accepted,
    client_id: accepted ? verdict.client_id : null,
  });
  if (accepted) {
    json(res, 200, { ok: true });
  } else {
    // RFC 6750 §3: the challenge a client reads to know its token failed.
    json(res, 401, { error: 'invalid_token' }, {
      'www-authenticate': match
        ? 'Bearer realm="callhook-receiver", error="invalid_token"'
        : 'Bearer realm="callhook-receiver"',
    });
  }
}

const receiverServer = http.createServer((req, res) => {
  receive(req, res).catch((error) => {
    console.error(`receiver: ${error.stack ?? error}`);
    if (!res.headersSent) {
      json(res, 500, { error: 'server_error' });
    } else {
      res.destroy();
    }
  });
});
await listen(receiverServer, receiverPort);
const receiverBase = `http://127.0.0.1:${receiverServer.address().port}`;

function listen(server, listenPort) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function stop() {
  providerServer.close();
  receiverServer.close();
  providerServer.closeAllConnections();
  receiverServer.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent holds stdin open; when it goes (killed, panicked), so do we.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

const ready = {
  issuer,
  token_endpoint: `${issuer}/token`,
  introspection_endpoint: `${issuer}/token/introspection`,
  revocation_endpoint: `${issuer}/token/revocation`,
  resource: RESOURCE,
  scope: SCOPE,
  receiver: `${receiverBase}/hook`,
  received: `${receiverBase}/received`,
  clients: {
    callhook: {
      client_id: clients.callhook.id,
      client_secret: clients.callhook.secret,
      access_ttl: accessTtl,
      refresh_token: await mintRefreshToken(clients.callhook.id),
    },
    brief: {
      client_id: clients.brief.id,
      client_secret: clients.brief.secret,
      access_ttl: briefAccessTtl,
      refresh_token: await mintRefreshToken(clients.brief.id),
    },
  },
};
process.stdout.write(`${JSON.stringify({ ready })}\n`);
