// webhooks.test.js — endpoints with whsec_ secrets, signed deliveries that
// Stripe's own verifier accepts, retries with backoff in sim time, events.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { client, admin, advance, receiver, waitFor, setFaults } = require('./helpers');

const stripe = client();

async function endpoint(url, events = ['*']) {
  const we = await stripe.webhookEndpoints.create({ url, enabled_events: events });
  assert.match(we.id, /^we_/);
  assert.match(we.secret, /^whsec_/);
  return we;
}

const eventsOf = (got) => got.map((g) => JSON.parse(g.body));

test('events are delivered signed; stripe.webhooks.constructEvent verifies them', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  const we = await endpoint(rx.url, ['payment_intent.succeeded', 'charge.succeeded']);
  const pi = await stripe.paymentIntents.create({ amount: 990, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
  await waitFor(() => rx.got.length >= 2);
  for (const d of rx.got) {
    const evt = stripe.webhooks.constructEvent(d.body, d.signature, we.secret, 1e9);
    assert.match(evt.id, /^evt_/);
    assert.ok(['payment_intent.succeeded', 'charge.succeeded'].includes(evt.type));
  }
  const types = eventsOf(rx.got).map((e) => e.type).sort();
  assert.deepEqual(types, ['charge.succeeded', 'payment_intent.succeeded']);
  const piEvent = eventsOf(rx.got).find((e) => e.type === 'payment_intent.succeeded');
  assert.equal(piEvent.data.object.id, pi.id);
  assert.throws(() => stripe.webhooks.constructEvent(rx.got[0].body, rx.got[0].signature, 'whsec_wrong', 1e9));
  await stripe.webhookEndpoints.del(we.id);
});

test('the failure, 3DS, invoice, customer and payment method events fire', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  const we = await endpoint(rx.url);
  const c = await stripe.customers.create({});
  const pm = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id });
  await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: pm.id } });
  await stripe.invoiceItems.create({ customer: c.id, amount: 100, currency: 'usd' });
  const inv = await stripe.invoices.create({ customer: c.id });
  await stripe.invoices.pay(inv.id).catch(() => {});
  await stripe.paymentIntents
    .create({ amount: 100, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true });
  const want = ['customer.updated', 'payment_method.attached', 'invoice.payment_failed', 'charge.failed',
    'payment_intent.payment_failed', 'payment_intent.requires_action'];
  await waitFor(() => want.every((w) => eventsOf(rx.got).some((e) => e.type === w)));
  await stripe.webhookEndpoints.del(we.id);
  const list = await stripe.events.list({ type: 'payment_intent.requires_action', limit: 1 });
  assert.equal(list.data[0].type, 'payment_intent.requires_action');
  const one = await stripe.events.retrieve(list.data[0].id);
  assert.equal(one.id, list.data[0].id);
});

test('a failing endpoint is retried with backoff as sim time passes', async (t) => {
  const rx = await receiver((n) => (n <= 2 ? 500 : 200));
  t.after(() => rx.close());
  const we = await endpoint(rx.url, ['customer.created']);
  await stripe.customers.create({ email: 'retry@example.com' });
  await waitFor(() => rx.got.length === 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rx.got.length, 1, 'no retry before the backoff passes');
  await advance(61);
  await waitFor(() => rx.got.length === 2);
  await advance(121);
  await waitFor(() => rx.got.length === 3);
  assert.equal(rx.got[2].body, rx.got[0].body);
  const stats = await admin('GET', '/_sim/webhooks');
  assert.ok(stats.delivered >= 1);
  assert.ok(stats.failed_attempts >= 2);
  await stripe.webhookEndpoints.del(we.id);
});

test('the duplicate fault delivers an event twice', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  const we = await endpoint(rx.url, ['customer.created']);
  await setFaults('webhook_dup=1');
  try {
    const c = await stripe.customers.create({});
    await waitFor(() => rx.got.length === 2);
    const [a, b] = eventsOf(rx.got);
    assert.equal(a.id, b.id);
    assert.equal(a.data.object.id, c.id);
  } finally {
    await setFaults('');
    await stripe.webhookEndpoints.del(we.id);
  }
});

test('webhook endpoints: retrieve hides the secret, update, list, delete', async () => {
  const we = await endpoint('http://127.0.0.1:9/none', ['charge.failed']);
  const got = await stripe.webhookEndpoints.retrieve(we.id);
  assert.equal(got.secret, undefined);
  const upd = await stripe.webhookEndpoints.update(we.id, { enabled_events: ['charge.succeeded'], disabled: true });
  assert.deepEqual(upd.enabled_events, ['charge.succeeded']);
  assert.equal(upd.status, 'disabled');
  const list = await stripe.webhookEndpoints.list({ limit: 100 });
  assert.ok(list.data.some((w) => w.id === we.id));
  const del = await stripe.webhookEndpoints.del(we.id);
  assert.equal(del.deleted, true);
});
