'use strict';
// A "not ours" exchange: a TLS WebSocket feed of Binance-shaped trades (ws
// package, optional permessage-deflate with context takeover) and an HTTPS
// order API answering Binance-shaped acks, both on 127.0.0.1 with free
// ports, over Node's TLS (OpenSSL). The server writes the TLS secrets of
// every connection to the key log (the 'keylog' event).
//
// Usage: node server.js CONFIG.json; prints {"feed":PORT,"orders":PORT}
// once listening and exits when stdin closes.
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');
const { config, tlsOptions, keylogTo } = require('./common');

const c = config();
const tlsOpts = Object.assign(tlsOptions(c), { cert: fs.readFileSync(c.cert), key: fs.readFileSync(c.key) });
const keylog = keylogTo(c.keylog);

// now returns the exchange time E: ms (Date.now, as Binance) or µs. Both
// come from the wall clock (Date.now), the clock the capture's kernel
// timestamps use, so feed latency on loopback is never negative; in µs the
// last three digits are 0. (performance.timeOrigin + performance.now() is a
// monotonic estimate that was 2 ms ahead of the wall clock here.)
function now() {
  if (c.unit === 'us') return Date.now() * 1000;
  return Date.now();
}

const feed = https.createServer(tlsOpts);
feed.on('keylog', (line) => keylog(line));
const wss = new WebSocketServer({ server: feed, perMessageDeflate: c.deflate ? { threshold: 0 } : false });
wss.on('connection', (ws) => {
  let n = 0;
  const pad = c.big ? 'x'.repeat(100) + Array.from({ length: 30000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join('') : '';
  const send = () => {
    if (n >= c.ticks) {
      ws.close(1000, 'done');
      return;
    }
    n++;
    const e = now();
    let m = `{"e":"trade","E":${e},"s":"ETHUSDT","t":${n},"p":"${3000 + n}.50","q":"0.10","T":${Math.floor(e / (c.unit === 'us' ? 1000 : 1))},"m":${n % 2 === 0}`;
    if (c.big && n % c.big === 0) m += `,"pad":"${pad}"`;
    m += '}';
    ws.send(m, () => setTimeout(send, 1));
  };
  send();
});

let orderId = 5000;
const orders = https.createServer(tlsOpts, (req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    let o;
    try {
      o = JSON.parse(body);
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"code":-1102,"msg":"bad order"}');
      return;
    }
    orderId++;
    const ack = { symbol: o.symbol, orderId, orderListId: -1, clientOrderId: o.newClientOrderId, transactTime: Date.now(), price: o.price, origQty: o.quantity, executedQty: '0.00000000', status: 'NEW', timeInForce: 'GTC', type: o.type, side: o.side };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(ack));
  });
});
orders.on('keylog', (line) => keylog(line));

let listening = 0;
const ready = () => {
  if (++listening === 2) process.stdout.write(JSON.stringify({ feed: feed.address().port, orders: orders.address().port }) + '\n');
};
feed.listen(0, '127.0.0.1', ready);
orders.listen(0, '127.0.0.1', ready);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
