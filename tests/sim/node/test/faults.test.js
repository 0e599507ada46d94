// faults.test.js — injected latency, 5xx, 429 and dropped connections as the
// official client sees them.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { client, admin, setFaults, rejects } = require('./helpers');

const stripe = client({ maxNetworkRetries: 0 });

test('faults are per path and cleared by an empty spec', async (t) => {
  t.after(() => setFaults(''));
  await setFaults('/v1/customers*:5xx=1');
  const e = await rejects(stripe.customers.create({}));
  assert.ok(e instanceof Stripe.errors.StripeAPIError);
  assert.equal(e.statusCode, 500);
  assert.equal(e.headers['stripe-should-retry'], 'true');
  const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
  assert.equal(pi.status, 'requires_payment_method');
  const desc = await admin('GET', '/_sim/faults');
  assert.equal(desc.spec, '/v1/customers*:5xx=1');
  await setFaults('');
  assert.match((await stripe.customers.create({})).id, /^cus_/);
});

test('429 is a StripeRateLimitError; a drop is a connection error', async (t) => {
  t.after(() => setFaults(''));
  await setFaults('/v1/customers:429=1');
  const e = await rejects(stripe.customers.create({}));
  assert.ok(e instanceof Stripe.errors.StripeRateLimitError);
  assert.equal(e.statusCode, 429);
  await setFaults('/v1/customers:drop=1');
  const d = await rejects(stripe.customers.create({}));
  assert.ok(d instanceof Stripe.errors.StripeConnectionError, d.constructor.name);
});

test('latency delays answers', async (t) => {
  t.after(() => setFaults(''));
  await setFaults('latency=150-200');
  const start = Date.now();
  await stripe.customers.list({ limit: 1 });
  assert.ok(Date.now() - start >= 140);
});

test('an exponential latency tail adds delay on average', async (t) => {
  t.after(() => setFaults(''));
  await setFaults('/v1/customers:latency_exp=40');
  const start = Date.now();
  for (let i = 0; i < 10; i++) await stripe.customers.list({ limit: 1 });
  const mean = (Date.now() - start) / 10;
  assert.ok(mean >= 10 && mean < 400, `mean ${mean} ms`);
});

test('a bad spec is refused and the old rules stay', async (t) => {
  t.after(() => setFaults(''));
  await setFaults('/v1/charges:5xx=0.5');
  await assert.rejects(setFaults('5xx=2'));
  await assert.rejects(setFaults('bogus=1'));
  assert.equal((await admin('GET', '/_sim/faults')).spec, '/v1/charges:5xx=0.5');
});
