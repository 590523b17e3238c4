'use strict';
// A "not ours" bot: reads the feed with the ws package and posts an order
// (JSON with newClientOrderId) after every orderEvery-th tick over one
// keep-alive HTTPS connection. With nameTick the order names its tick
// (tick_feed, tick_seq) as cloudpcap's lab trader does; without, the
// monitor has to match the last tick. Prints a JSON summary when done.
//
// Usage: node client.js CONFIG.json (with feedPort and orderPort set)
const fs = require('fs');
const https = require('https');
const WebSocket = require('ws');
const { config, tlsOptions } = require('./common');

const c = config();
const ca = fs.readFileSync(c.cert);
const tlsOpts = Object.assign(tlsOptions(c), { ca, servername: 'localhost' });
const agent = new https.Agent(Object.assign({ keepAlive: true, maxSockets: 1 }, tlsOpts));

const ws = new WebSocket(`wss://127.0.0.1:${c.feedPort}/ws/ethusdt@trade`, Object.assign({ perMessageDeflate: !!c.deflate }, tlsOpts));
const sent = [];
let ticks = 0;
let queue = Promise.resolve();
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function order(seq, feedName) {
  const body = { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.10', price: '3000.00', newClientOrderId: `node-${seq}` };
  if (c.nameTick) Object.assign(body, { tick_feed: feedName, tick_seq: seq });
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: c.orderPort, path: '/api/v3/order', method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => {
        const ack = JSON.parse(b);
        if (res.statusCode !== 200 || ack.clientOrderId !== body.newClientOrderId) reject(new Error('bad ack ' + b));
        sent.push({ id: body.newClientOrderId, tick: seq, status: ack.status });
        resolve();
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  ticks++;
  if (m.t % c.orderEvery === 0) {
    const name = `127.0.0.1:${ws._socket.localPort}-127.0.0.1:${c.feedPort}`;
    // orderDelay holds each order back, so newer ticks arrive before it
    // (a bot whose orders queue behind its decisions).
    queue = queue.then(() => wait(c.orderDelay || 0)).then(() => order(m.t, name));
  }
});
ws.on('close', () => {
  queue.then(() => {
    agent.destroy();
    process.stdout.write(JSON.stringify({ ticks, orders: sent, feed: null }) + '\n');
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
});
ws.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
