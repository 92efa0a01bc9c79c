#!/usr/bin/env node
// A gateway group source plugin in Node.js, to show that the plugin contract
// is language-neutral. It serves the groups listed in its configuration:
//
//   config:
//     groups:
//       - id: staff
//         name: Staff
//         members: [{id: u1, email: ann@example.org, name: Ann}]
//
// What a plugin in any language must do (see plugins/README.md):
//   1. refuse to run unless INVITEGATE_PLUGIN holds the magic cookie;
//   2. pick protocol version 1 from PLUGIN_PROTOCOL_VERSIONS;
//   3. serve gRPC on loopback: the base service invitegate.plugin.v1.Plugin,
//      its kind's service, grpc.health.v1.Health ("plugin" = SERVING), and
//      go-plugin's plugin.GRPCController (Shutdown) and plugin.GRPCStdio;
//   4. with PLUGIN_CLIENT_CERT set (the host's automatic mutual TLS), make a
//      one-time certificate, require the host's certificate, and announce
//      its own (base64 DER, no padding) in the handshake line;
//   5. print the handshake line "1|1|tcp|127.0.0.1:PORT|grpc|CERT" on stdout;
//   6. log hclog-style JSON lines on stderr: the host relays them.
'use strict';

const crypto = require('crypto');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const forge = require('node-forge');

const MAGIC_COOKIE_KEY = 'INVITEGATE_PLUGIN';
const MAGIC_COOKIE_VALUE = '8c1f3b2e7d4a4f0e9b6a5c3d2e1f0a9b-invitegate-gateway-plugin';
const PROTOCOL_VERSION = '1';
const VERSION = '1.0.0';
const BATCH = 512;

// The contract's .proto files: next to the plugin when installed on its own
// (INVITEGATE_PROTO_DIR), else in the gateway's source tree.
const PROTO_DIR = process.env.INVITEGATE_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');

function log(level, message, fields) {
  // hclog's JSON format; the timestamp layout must have 6 fractional digits.
  const ts = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  process.stderr.write(JSON.stringify({ '@level': level, '@message': message, '@timestamp': ts, ...fields }) + '\n');
}

if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
  process.stderr.write('This is a plugin of the invitation gateway: the gateway starts it, it is not meant to be run by hand.\n');
  process.exit(1);
}
const offered = (process.env.PLUGIN_PROTOCOL_VERSIONS || '').split(',');
if (!offered.includes(PROTOCOL_VERSION)) {
  process.stderr.write(`the gateway offers plugin protocols [${offered}], this plugin speaks ${PROTOCOL_VERSION}\n`);
  process.exit(1);
}

const loadOpts = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(
  [path.join(PROTO_DIR, 'plugin.proto'), path.join(PROTO_DIR, 'groupsource.proto')],
  { ...loadOpts, includeDirs: [PROTO_DIR] }));
const local = grpc.loadPackageDefinition(protoLoader.loadSync(
  [path.join(__dirname, 'health.proto'), path.join(__dirname, 'go-plugin.proto')], loadOpts));
const v1 = pkg.invitegate.plugin.v1;

const SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['groups'],
  properties: {
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          members: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' } } } },
        },
      },
    },
  },
});

let groups = null; // set by Configure

// checkConfig returns every problem at once, as the contract asks.
function checkConfig(cfg) {
  const problems = [];
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    return [{ field: '', message: 'must be an object' }];
  }
  for (const key of Object.keys(cfg)) {
    if (key !== 'groups') problems.push({ field: key, message: 'unknown field' });
  }
  if (!Array.isArray(cfg.groups)) {
    problems.push({ field: 'groups', message: 'is required: a list of groups' });
    return problems;
  }
  const seen = new Set();
  cfg.groups.forEach((g, i) => {
    if (!g || typeof g.id !== 'string' || g.id === '') problems.push({ field: `groups[${i}].id`, message: 'is required' });
    else if (seen.has(g.id)) problems.push({ field: `groups[${i}].id`, message: `"${g.id}" is used twice` });
    else seen.add(g.id);
    (g && g.members || []).forEach((m, j) => {
      if (!m || (!m.id && !m.email)) problems.push({ field: `groups[${i}].members[${j}]`, message: 'needs an id or an email' });
    });
  });
  return problems;
}

const base = {
  Info(call, cb) {
    cb(null, {
      kind: 'KIND_GROUP_SOURCE', name: 'node-groups', version: VERSION,
      description: 'Groups listed in the configuration (a Node.js example)',
      apiVersions: [1], configSchema: SCHEMA,
    });
  },
  Configure(call, cb) {
    let cfg;
    try {
      cfg = JSON.parse(call.request.configJson || '{}');
    } catch (e) {
      cb(null, { problems: [{ field: '', message: 'not JSON: ' + e.message }] });
      return;
    }
    const problems = checkConfig(cfg);
    if (problems.length === 0) {
      groups = cfg.groups;
      log('info', 'configured', { groups: groups.length, api_version: call.request.apiVersion });
    }
    cb(null, { problems });
  },
  Health(call, cb) {
    if (groups === null) cb({ code: grpc.status.UNAVAILABLE, message: 'not configured' });
    else cb(null, {});
  },
};

const groupSource = {
  ListGroups(call, cb) {
    if (groups === null) return cb({ code: grpc.status.UNAVAILABLE, message: 'not configured' });
    cb(null, { groups: groups.map((g) => ({ id: g.id, name: g.name || '' })) });
  },
  // Server streaming: members in batches; ending the call with OK is the
  // promise that every member was sent.
  ListMembers(call) {
    if (groups === null) {
      call.destroy({ code: grpc.status.UNAVAILABLE, message: 'not configured' });
      return;
    }
    const wanted = call.request.groupIds || [];
    let batch = [];
    for (const g of groups) {
      if (wanted.length > 0 && !wanted.includes(g.id)) continue;
      for (const m of g.members || []) {
        batch.push({ groupId: g.id, id: m.id || '', email: m.email || '', name: m.name || '' });
        if (batch.length === BATCH) {
          call.write({ members: batch });
          batch = [];
        }
      }
    }
    if (batch.length > 0) call.write({ members: batch });
    call.end();
  },
};

// serverCredentials sets up go-plugin's automatic mutual TLS when the host
// asks for it: trust only the host's one-time certificate, and present our
// own one-time certificate, announced in the handshake line.
function serverCredentials() {
  const hostCert = process.env.PLUGIN_CLIENT_CERT;
  if (!hostCert) return { creds: grpc.ServerCredentials.createInsecure(), announce: '' };
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }));
  cert.serialNumber = '01' + crypto.randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 30 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const subject = [{ name: 'commonName', value: 'localhost' }, { name: 'organizationName', value: 'gateway plugin' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] },
  ]);
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(hostCert),
    [{ cert_chain: Buffer.from(certPem), private_key: Buffer.from(forge.pki.privateKeyToPem(key)) }],
    true);
  // go-plugin reads the certificate as unpadded standard base64.
  return { creds, announce: der.toString('base64').replace(/=+$/, '') };
}

const server = new grpc.Server();
server.addService(v1.Plugin.service, base);
server.addService(v1.GroupSource.service, groupSource);
server.addService(local.grpc.health.v1.Health.service, {
  Check(call, cb) {
    if (call.request.service === 'plugin' || call.request.service === '') cb(null, { status: 'SERVING' });
    else cb(null, { status: 'SERVICE_UNKNOWN' });
  },
});
server.addService(local.plugin.GRPCController.service, {
  Shutdown(call, cb) {
    log('info', 'shutting down at the host\'s request');
    cb(null, {});
    setImmediate(() => server.tryShutdown(() => process.exit(0)));
    setTimeout(() => process.exit(0), 1000).unref();
  },
});
server.addService(local.plugin.GRPCStdio.service, {
  // Nothing is written to stdout/stderr through this stream; it stays open
  // until the host goes away, as go-plugin expects.
  StreamStdio(call) {
    call.on('cancelled', () => call.end());
  },
});

const { creds, announce } = serverCredentials();
server.bindAsync('127.0.0.1:0', creds, (err, port) => {
  if (err) {
    log('error', 'cannot listen', { error: err.message });
    process.exit(1);
  }
  // The handshake line: core protocol | our protocol | network | address | grpc | cert.
  process.stdout.write(`1|${PROTOCOL_VERSION}|tcp|127.0.0.1:${port}|grpc|${announce}\n`);
});
process.on('SIGTERM', () => process.exit(0));
