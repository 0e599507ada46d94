// helpers.js — shared setup for the stripe-sim scenarios: a Stripe client
// pointed at the simulator (only host, port and protocol changed), admin
// calls, and a local webhook receiver.
'use strict';
const http = require('node:http');
const Stripe = require('stripe');

const PORT = Number(process.env.STRIPE_SIM_PORT);
if (!PORT) throw new Error('STRIPE_SIM_PORT is not set; run through tests/sim/run_node.sh');
const KEY = 'sk_test_settle_sim_0000000000000000';

// No keep-alive, so a finished test file's process exits at once instead of
// holding idle sockets open until the simulator times them out.
const agent = new http.Agent({ keepAlive: false });

function client(opts = {}) {
  return new Stripe(KEY, { host: '127.0.0.1', port: PORT, protocol: 'http', httpAgent: agent, ...opts });
}

async function admin(method, path, form) {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const res = await fetch(`http://127.0.0.1:${PORT}${path}`, {
    method,
    body,
    headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function raw(method, path, { headers = {}, body } = {}) {
  const res = await fetch(`http://127.0.0.1:${PORT}${path}`, { method, headers, body });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

const advance = (seconds) => admin('POST', '/_sim/clock/advance', { seconds: String(seconds) });
const effectsFor = (key) => admin('GET', `/_sim/effects?idempotency_key=${encodeURIComponent(key)}`);
const setFaults = (spec) => admin('POST', '/_sim/faults', { spec });

// A webhook receiver on a free port; `respond(n)` picks the status per delivery.
async function receiver(respond = () => 200) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ body, signature: req.headers['stripe-signature'] });
      res.writeHead(respond(got.length));
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  return { url, got, close: () => new Promise((r) => server.close(r)) };
}

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out waiting');
}

async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

module.exports = { PORT, KEY, client, admin, raw, advance, effectsFor, setFaults, receiver, waitFor, rejects };
