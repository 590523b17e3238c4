'use strict';
// Shared by server.js and client.js: configuration from a JSON file named
// by argv[2] (see node_test.go), TLS options and the key log writer.
const fs = require('fs');

function config() {
  const c = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  c.ticks = c.ticks || 20;
  c.orderEvery = c.orderEvery || 4;
  return c;
}

// tlsOptions pins the version and, when given, the suites (Node's ciphers
// option takes TLS 1.3 names such as TLS_AES_256_GCM_SHA384 and OpenSSL's
// TLS 1.2 names alike).
function tlsOptions(c) {
  const o = { minVersion: 'TLSv' + c.tls, maxVersion: 'TLSv' + c.tls };
  if (c.cipher) o.ciphers = c.cipher;
  return o;
}

// keylogTo returns a function appending NSS key log lines to path.
function keylogTo(path) {
  const fd = fs.openSync(path, 'a');
  return (line) => fs.writeSync(fd, line);
}

module.exports = { config, tlsOptions, keylogTo };
