// webhooks.test.js — events signed with stripe.webhooks.generateTestHeaderString,
// exactly as Stripe's libraries sign them, against POST /webhooks/stripe.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const Stripe = require('stripe');

const stripe = new Stripe('sk_test_settle_node');
const base = `http://127.0.0.1:${process.env.SETTLE_HTTP_PORT}`;
const CURRENT = 'whsec_node_current';
const PREVIOUS = 'whsec_node_previous';

let n = 0;
function eventPayload(type = 'invoice.paid') {
  n += 1;
  return JSON.stringify({
    id: `evt_node_${process.pid}_${n}`,
    object: 'event',
    api_version: '2024-06-20',
    created: Math.floor(Date.now() / 1000),
    type,
    data: { object: { id: `in_node_${n}`, object: 'invoice', customer: 'cus_node', status: 'paid' } },
    livemode: false,
  });
}

async function post(payload, header, contentType = 'application/json') {
  const res = await fetch(`${base}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'Content-Type': contentType, 'Stripe-Signature': header },
    body: payload,
  });
  return { status: res.status, body: await res.json() };
}

test('a genuine event is accepted once, then acknowledged as a duplicate', async () => {
  const payload = eventPayload();
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT });
  const first = await post(payload, header);
  assert.strictEqual(first.status, 200);
  assert.strictEqual(first.body.duplicate, false);
  assert.strictEqual(first.body.id, JSON.parse(payload).id);
  const again = await post(payload, stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT }));
  assert.strictEqual(again.status, 200);
  assert.strictEqual(again.body.duplicate, true);
});

test('the previous secret still verifies during rotation', async () => {
  const payload = eventPayload('customer.updated');
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: PREVIOUS });
  const res = await post(payload, header);
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.body.duplicate, false);
});

test('a tampered payload is rejected with a JSON error', async () => {
  const payload = eventPayload();
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT });
  const res = await post(payload.replace('"paid"}', '"void"}'), header);
  assert.strictEqual(res.status, 400);
  assert.strictEqual(res.body.error.type, 'signature_invalid');
  assert.ok(res.body.error.message.length > 0);
  assert.ok(res.body.error.hint.length > 0);
  assert.ok(!JSON.stringify(res.body).includes(CURRENT));
});

test('a stale timestamp is rejected', async () => {
  const payload = eventPayload();
  const timestamp = Math.floor(Date.now() / 1000) - 600;
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT, timestamp });
  const res = await post(payload, header);
  assert.strictEqual(res.status, 400);
  assert.strictEqual(res.body.error.type, 'signature_invalid');
});

test('an unknown secret is rejected and the event is not stored', async () => {
  const payload = eventPayload();
  const bad = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_someone_else' });
  assert.strictEqual((await post(payload, bad)).status, 400);
  // Nothing was stored: the genuine delivery afterwards is new.
  const good = stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT });
  const res = await post(payload, good);
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.body.duplicate, false);
});

test('metrics count what happened', async () => {
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  assert.strictEqual(res.status, 200);
  assert.match(text, /settle_webhook_events_total\{result="received"\} 3\n/);
  assert.match(text, /settle_webhook_events_total\{result="duplicate"\} 1\n/);
  assert.match(text, /settle_webhook_events_total\{result="rejected"\} 3\n/);
});
