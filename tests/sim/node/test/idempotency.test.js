// idempotency.test.js — Stripe's idempotency-key semantics, proven with the
// simulator's effects counter: a replay never charges twice.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { client, raw, KEY, advance, effectsFor, setFaults, rejects } = require('./helpers');

const stripe = client({ maxNetworkRetries: 0 });
const params = { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true };

test('same key and parameters replay the first response', async () => {
  const key = `settle_replay_${Date.now()}`;
  const a = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  const b = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  assert.equal(a.id, b.id);
  assert.equal(a.latest_charge, b.latest_charge);
  assert.equal(b.lastResponse.headers['idempotent-replayed'], 'true');
  assert.equal(a.lastResponse.headers['idempotent-replayed'], undefined);
  const fx = await effectsFor(key);
  assert.equal(fx.count_for_key, 1);
  assert.equal(fx.effects.length, 1);
  assert.equal(fx.effects[0].kind, 'charge');
  assert.equal(fx.effects[0].id, a.latest_charge);
});

test('a card error is replayed too, status and body', async () => {
  const key = `settle_decline_${Date.now()}`;
  const p = { ...params, payment_method: 'pm_card_chargeDeclinedInsufficientFunds' };
  const e1 = await rejects(stripe.paymentIntents.create(p, { idempotencyKey: key }));
  const e2 = await rejects(stripe.paymentIntents.create(p, { idempotencyKey: key }));
  assert.equal(e1.statusCode, 402);
  assert.equal(e2.statusCode, 402);
  assert.deepEqual(e2.raw.payment_intent.id, e1.raw.payment_intent.id);
  assert.equal(e2.raw.charge, e1.raw.charge);
  assert.equal(e2.headers['idempotent-replayed'], 'true');
  assert.equal((await effectsFor(key)).count_for_key, 1);
});

test('same key with other parameters or another endpoint is an idempotency_error', async () => {
  const key = `settle_mismatch_${Date.now()}`;
  await stripe.paymentIntents.create(params, { idempotencyKey: key });
  let e = await rejects(stripe.paymentIntents.create({ ...params, amount: 2600 }, { idempotencyKey: key }));
  assert.ok(e instanceof Stripe.errors.StripeIdempotencyError);
  assert.equal(e.statusCode, 400);
  e = await rejects(stripe.customers.create({}, { idempotencyKey: key }));
  assert.ok(e instanceof Stripe.errors.StripeIdempotencyError);
  assert.equal((await effectsFor(key)).count_for_key, 1);
});

test('a parameter validation error is not stored under the key', async () => {
  const key = `settle_invalid_${Date.now()}`;
  const e = await rejects(stripe.paymentIntents.create({ currency: 'usd' }, { idempotencyKey: key }));
  assert.equal(e.statusCode, 400);
  const ok = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: key });
  assert.match(ok.id, /^pi_/);
});

test('a request while the first is still running gets 409 and stores nothing', async () => {
  const key = `settle_busy_${Date.now()}`;
  await setFaults('/v1/customers:latency=400');
  try {
    const slow = stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: key });
    await new Promise((r) => setTimeout(r, 100));
    const e = await rejects(stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: key }));
    assert.equal(e.statusCode, 409);
    assert.equal(e.raw.type, 'idempotency_error');
    assert.equal(e.headers['stripe-should-retry'], 'true');
    const first = await slow;
    const again = await stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: key });
    assert.equal(again.id, first.id);
  } finally {
    await setFaults('');
  }
});

test('keys longer than 255 characters are refused; GET ignores keys', async () => {
  const e = await rejects(stripe.customers.create({}, { idempotencyKey: 'k'.repeat(256) }));
  assert.equal(e.statusCode, 400);
  const r = await raw('GET', '/v1/customers?limit=1', {
    headers: { authorization: `Bearer ${KEY}`, 'idempotency-key': 'x' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('idempotent-replayed'), null);
});

test('keys expire after 24 hours of sim time', async () => {
  const key = `settle_expiry_${Date.now()}`;
  const a = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  await advance(23 * 3600);
  const b = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  assert.equal(b.id, a.id);
  await advance(2 * 3600);
  const c = await stripe.paymentIntents.create({ ...params, amount: 1 }, { idempotencyKey: key });
  assert.notEqual(c.id, a.id);
  assert.equal((await effectsFor(key)).count_for_key, 2);
});

test('retries through injected 5xx and 429 still charge once per key', async () => {
  await setFaults('/v1/payment_intents:5xx=0.25,429=0.15');
  const retrying = client({ maxNetworkRetries: 8 });
  try {
    const keys = [];
    for (let i = 0; i < 8; i++) {
      const key = `settle_retry_${Date.now()}_${i}`;
      keys.push(key);
      const pi = await retrying.paymentIntents.create(params, { idempotencyKey: key });
      assert.equal(pi.status, 'succeeded');
    }
    for (const key of keys) assert.equal((await effectsFor(key)).count_for_key, 1, key);
  } finally {
    await setFaults('');
  }
});
