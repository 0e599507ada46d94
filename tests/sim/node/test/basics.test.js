// basics.test.js — auth, wire format, customers, payment methods, errors.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { PORT, KEY, client, raw, rejects } = require('./helpers');

const stripe = client();

test('a bad key gets Stripe\'s 401 and the key is not echoed', async () => {
  const bad = new Stripe('sk_live_nope', { host: '127.0.0.1', port: PORT, protocol: 'http' });
  const e = await rejects(bad.customers.list());
  assert.ok(e instanceof Stripe.errors.StripeAuthenticationError);
  assert.equal(e.statusCode, 401);
  assert.ok(!JSON.stringify(e.raw).includes('sk_live_nope'));
  const none = await raw('GET', '/v1/customers');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.type, 'invalid_request_error');
});

test('basic auth with the key as user is accepted; Request-Id comes back', async () => {
  const auth = 'Basic ' + Buffer.from(KEY + ':').toString('base64');
  const r = await raw('GET', '/v1/customers?limit=1', { headers: { authorization: auth } });
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'list');
  assert.match(r.headers.get('request-id'), /^req_/);
});

test('customers: create with nested metadata, retrieve, update, list, delete', async () => {
  const email = `c${Date.now()}@example.com`;
  const c = await stripe.customers.create({ email, name: 'Jenny', metadata: { plan: 'pro', seats: '3' } });
  assert.match(c.id, /^cus_/);
  assert.equal(c.object, 'customer');
  assert.deepEqual(c.metadata, { plan: 'pro', seats: '3' });
  assert.equal(c.lastResponse.statusCode, 200);
  assert.match(c.lastResponse.requestId, /^req_/);
  const u = await stripe.customers.update(c.id, { metadata: { seats: '' }, name: 'Jen' });
  assert.deepEqual(u.metadata, { plan: 'pro' });
  assert.equal(u.name, 'Jen');
  const got = await stripe.customers.retrieve(c.id);
  assert.equal(got.email, email);
  const list = await stripe.customers.list({ email });
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, c.id);
  const del = await stripe.customers.del(c.id);
  assert.equal(del.deleted, true);
  const e = await rejects(stripe.customers.update(c.id, { name: 'x' }));
  assert.equal(e.statusCode, 404);
  assert.equal(e.code, 'resource_missing');
});

test('payment methods: create from a number, attach, default, list, detach', async () => {
  const c = await stripe.customers.create({ email: 'pm@example.com' });
  const pm = await stripe.paymentMethods.create({
    type: 'card',
    card: { number: '5555555555554444', exp_month: 4, exp_year: 2031, cvc: '123' },
  });
  assert.match(pm.id, /^pm_/);
  assert.equal(pm.card.brand, 'mastercard');
  assert.equal(pm.card.last4, '4444');
  const att = await stripe.paymentMethods.attach(pm.id, { customer: c.id });
  assert.equal(att.customer, c.id);
  const upd = await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: pm.id } });
  assert.equal(upd.invoice_settings.default_payment_method, pm.id);
  const tok = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
  assert.notEqual(tok.id, 'pm_card_visa');
  const list = await stripe.customers.listPaymentMethods(c.id);
  assert.deepEqual(list.data.map((p) => p.id).sort(), [pm.id, tok.id].sort());
  const det = await stripe.paymentMethods.detach(pm.id);
  assert.equal(det.customer, null);
  const after = await stripe.customers.retrieve(c.id);
  assert.equal(after.invoice_settings.default_payment_method, null);
});

test('cards that cannot be attached are declined on attach', async () => {
  const c = await stripe.customers.create({});
  for (const [tok, dc] of [
    ['pm_card_chargeDeclined', 'generic_decline'],
    ['pm_card_visa_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_visa_chargeDeclinedLostCard', 'lost_card'],
    ['pm_card_visa_chargeDeclinedStolenCard', 'stolen_card'],
  ]) {
    const e = await rejects(stripe.paymentMethods.attach(tok, { customer: c.id }));
    assert.ok(e instanceof Stripe.errors.StripeCardError, tok);
    assert.equal(e.statusCode, 402);
    assert.equal(e.code, 'card_declined');
    assert.equal(e.decline_code, dc);
  }
  const ok = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id });
  assert.equal(ok.customer, c.id);
});

test('a number failing the Luhn check is incorrect_number', async () => {
  const e = await rejects(
    stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424241', exp_month: 1, exp_year: 2030 } }),
  );
  assert.ok(e instanceof Stripe.errors.StripeCardError);
  assert.equal(e.code, 'incorrect_number');
});

test('invalid requests name the param; unknown params and ids are rejected', async () => {
  let e = await rejects(stripe.paymentIntents.create({ currency: 'usd' }));
  assert.ok(e instanceof Stripe.errors.StripeInvalidRequestError);
  assert.equal(e.statusCode, 400);
  assert.equal(e.param, 'amount');
  e = await rejects(stripe.paymentIntents.create({ amount: 100, currency: 'usd', bogus: 'x' }));
  assert.equal(e.param, 'bogus');
  e = await rejects(stripe.paymentIntents.retrieve('pi_doesnotexist'));
  assert.equal(e.statusCode, 404);
  assert.equal(e.code, 'resource_missing');
  assert.equal(e.param, 'id');
  e = await rejects(stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer: 'cus_nope' }));
  assert.equal(e.statusCode, 400);
  assert.equal(e.code, 'resource_missing');
  assert.equal(e.param, 'customer');
  assert.equal(e.headers['stripe-should-retry'], 'false');
});

test('expand[] replaces ids with objects', async () => {
  const c = await stripe.customers.create({ email: 'x@example.com' });
  const pi = await stripe.paymentIntents.create({
    amount: 500, currency: 'eur', customer: c.id, payment_method: 'pm_card_visa', confirm: true,
    expand: ['customer', 'latest_charge'],
  });
  assert.equal(pi.customer.id, c.id);
  assert.equal(pi.latest_charge.object, 'charge');
  assert.equal(pi.latest_charge.amount, 500);
});

test('ending_before pages backwards; Stripe-Version is echoed', async () => {
  const tag = `eb${Date.now()}`;
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await stripe.customers.create({ email: `${tag}@example.com` })).id);
  const newer = await stripe.customers.list({ email: `${tag}@example.com`, limit: 2, ending_before: ids[1] });
  assert.deepEqual(newer.data.map((c) => c.id), [ids[3], ids[2]]);
  const events = await stripe.events.list({ type: 'customer.created', limit: 3 });
  assert.equal(events.data.length, 3);
  const older = await stripe.events.list({ type: 'customer.created', limit: 2, starting_after: events.data[0].id });
  assert.equal(older.data[0].id, events.data[1].id);
  const back = await stripe.events.list({ type: 'customer.created', limit: 1, ending_before: events.data[1].id });
  assert.equal(back.data[0].id, events.data[0].id);
  const r = await raw('GET', '/v1/customers?limit=1', {
    headers: { authorization: `Bearer ${KEY}`, 'stripe-version': '2024-06-20' },
  });
  assert.equal(r.headers.get('stripe-version'), '2024-06-20');
});
