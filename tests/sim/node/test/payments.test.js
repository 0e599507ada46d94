// payments.test.js — PaymentIntents against every test card, 3-D Secure,
// manual capture, cancel, pagination, charges and refunds.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { client, admin, advance, rejects } = require('./helpers');

const stripe = client();

const pay = (pm, extra = {}) =>
  stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: pm, confirm: true, ...extra });

// token, code, decline_code (null code: succeeds on-session without 3DS)
const CARDS = [
  ['pm_card_visa', null, null],
  ['pm_card_visa_debit', null, null],
  ['pm_card_mastercard', null, null],
  ['pm_card_amex', null, null],
  ['pm_card_threeDSecureOptional', null, null],
  ['pm_card_riskLevelElevated', null, null],
  ['pm_card_pendingRefund', null, null],
  ['pm_card_refundFail', null, null],
  ['pm_card_visa_chargeDeclined', 'card_declined', 'generic_decline'],
  ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
  ['pm_card_visa_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
  ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
  ['pm_card_visa_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
  ['pm_card_visa_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
  ['pm_card_visa_chargeDeclinedVelocityLimitExceeded', 'card_declined', 'card_velocity_exceeded'],
  ['pm_card_chargeDeclinedExpiredCard', 'expired_card', undefined],
  ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', undefined],
  ['pm_card_chargeDeclinedProcessingError', 'processing_error', undefined],
  ['pm_card_chargeCustomerFail', 'card_declined', 'generic_decline'],
  ['pm_card_radarBlock', 'card_declined', 'fraudulent'],
  ['pm_card_riskLevelHighest', 'card_declined', 'highest_risk_level'],
];

for (const [pm, code, dc] of CARDS) {
  test(`confirm with ${pm}: ${code || 'succeeds'}`, async () => {
    if (!code) {
      const pi = await pay(pm);
      assert.equal(pi.status, 'succeeded');
      assert.equal(pi.amount_received, 2000);
      const ch = await stripe.charges.retrieve(pi.latest_charge);
      assert.equal(ch.status, 'succeeded');
      assert.equal(ch.captured, true);
      assert.equal(ch.payment_intent, pi.id);
      if (pm === 'pm_card_riskLevelElevated') assert.equal(ch.outcome.risk_level, 'elevated');
      return;
    }
    const e = await rejects(pay(pm));
    assert.ok(e instanceof Stripe.errors.StripeCardError, pm);
    assert.equal(e.statusCode, 402);
    assert.equal(e.type, 'StripeCardError');
    assert.equal(e.code, code);
    assert.equal(e.raw.decline_code, dc);
    assert.ok(e.message.length > 0);
    assert.equal(e.headers['stripe-should-retry'], 'false');
    const pi = e.raw.payment_intent;
    assert.match(pi.id, /^pi_/);
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.last_payment_error.code, code);
    assert.equal(pi.payment_method, null);
    const ch = await stripe.charges.retrieve(e.raw.charge);
    assert.equal(ch.status, 'failed');
    assert.equal(ch.failure_code, code);
    if (dc === 'fraudulent' || dc === 'highest_risk_level') assert.equal(ch.outcome.type, 'blocked');
  });
}

test('create, then confirm in a second call; confirm again is refused', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
  assert.equal(pi.status, 'requires_payment_method');
  const withPm = await stripe.paymentIntents.update(pi.id, { payment_method: 'pm_card_visa' });
  assert.equal(withPm.status, 'requires_confirmation');
  const done = await stripe.paymentIntents.confirm(pi.id);
  assert.equal(done.status, 'succeeded');
  const e = await rejects(stripe.paymentIntents.confirm(pi.id));
  assert.equal(e.code, 'payment_intent_unexpected_state');
  assert.equal(e.statusCode, 400);
});

test('a declined PaymentIntent can be retried with a new payment method', async () => {
  const e = await rejects(pay('pm_card_chargeDeclinedInsufficientFunds'));
  const pi = await stripe.paymentIntents.confirm(e.raw.payment_intent.id, { payment_method: 'pm_card_visa' });
  assert.equal(pi.status, 'succeeded');
});

test('3-D Secure required: requires_action, then the admin completes it', async () => {
  const pi = await pay('pm_card_threeDSecure2Required');
  assert.equal(pi.status, 'requires_action');
  assert.equal(pi.next_action.type, 'use_stripe_sdk');
  const done = await admin('POST', `/_sim/payment_intents/${pi.id}/3ds`, { outcome: 'succeed' });
  assert.equal(done.status, 'succeeded');
  assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
});

test('3-D Secure failed by the admin leaves requires_payment_method', async () => {
  const pi = await pay('pm_card_authenticationRequired', { return_url: 'https://example.com/back' });
  assert.equal(pi.status, 'requires_action');
  assert.equal(pi.next_action.type, 'redirect_to_url');
  assert.equal(pi.next_action.redirect_to_url.return_url, 'https://example.com/back');
  const failed = await admin('POST', `/_sim/payment_intents/${pi.id}/3ds`, { outcome: 'fail' });
  assert.equal(failed.status, 'requires_payment_method');
  assert.equal(failed.last_payment_error.code, 'payment_intent_authentication_failure');
});

test('authentication then decline: 3DS completes, the charge is declined', async () => {
  for (const [pm, dc] of [
    ['pm_card_authenticationRequiredChargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_threeDSecureRequiredChargeDeclined', 'generic_decline'],
  ]) {
    const pi = await pay(pm);
    assert.equal(pi.status, 'requires_action');
    const after = await admin('POST', `/_sim/payment_intents/${pi.id}/3ds`, { outcome: 'succeed' });
    assert.equal(after.status, 'requires_payment_method');
    assert.equal(after.last_payment_error.decline_code, dc);
  }
});

test('off-session: authentication_required, or success once set up', async () => {
  const c = await stripe.customers.create({});
  let e = await rejects(pay('pm_card_authenticationRequired', { customer: c.id, off_session: true }));
  assert.equal(e.code, 'authentication_required');
  assert.equal(e.decline_code, 'authentication_required');
  assert.equal(e.raw.payment_intent.status, 'requires_payment_method');
  const ok = await pay('pm_card_authenticationRequiredSetupForOffSession', { customer: c.id, off_session: true });
  assert.equal(ok.status, 'succeeded');
  const onSession = await pay('pm_card_authenticationRequiredSetupForOffSession', { customer: c.id });
  assert.equal(onSession.status, 'requires_action');
  // 3155: off-session fails until the card has been set up with authentication.
  const pm = await stripe.paymentMethods.attach('pm_card_authenticationRequiredOnSetup', { customer: c.id });
  e = await rejects(pay(pm.id, { customer: c.id, off_session: true }));
  assert.equal(e.code, 'authentication_required');
  const setup = await pay(pm.id, { customer: c.id, setup_future_usage: 'off_session' });
  assert.equal(setup.status, 'requires_action');
  await admin('POST', `/_sim/payment_intents/${setup.id}/3ds`, { outcome: 'succeed' });
  const later = await pay(pm.id, { customer: c.id, off_session: true });
  assert.equal(later.status, 'succeeded');
});

test('request_three_d_secure=any challenges cards that support 3DS, not amex', async () => {
  const opts = { payment_method_options: { card: { request_three_d_secure: 'any' } } };
  const visa = await pay('pm_card_visa', opts);
  assert.equal(visa.status, 'requires_action');
  assert.equal(visa.payment_method_options.card.request_three_d_secure, 'any');
  const amex = await pay('pm_card_amex', opts);
  assert.equal(amex.status, 'succeeded');
});

test('manual capture: requires_capture, partial capture, and cancel', async () => {
  const pi = await pay('pm_card_visa', { capture_method: 'manual' });
  assert.equal(pi.status, 'requires_capture');
  assert.equal(pi.amount_capturable, 2000);
  const cap = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1500 });
  assert.equal(cap.status, 'succeeded');
  assert.equal(cap.amount_received, 1500);
  const ch = await stripe.charges.retrieve(cap.latest_charge);
  assert.equal(ch.captured, true);
  assert.equal(ch.amount_captured, 1500);
  const held = await pay('pm_card_visa', { capture_method: 'manual' });
  const canceled = await stripe.paymentIntents.cancel(held.id, { cancellation_reason: 'abandoned' });
  assert.equal(canceled.status, 'canceled');
  assert.equal(canceled.cancellation_reason, 'abandoned');
  const e = await rejects(stripe.paymentIntents.capture(canceled.id));
  assert.equal(e.code, 'payment_intent_unexpected_state');
});

test('list paginates with limit and starting_after, newest first', async () => {
  const c = await stripe.customers.create({});
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await pay('pm_card_visa', { customer: c.id })).id);
  const p1 = await stripe.paymentIntents.list({ customer: c.id, limit: 2 });
  assert.equal(p1.has_more, true);
  assert.deepEqual(p1.data.map((p) => p.id), [ids[4], ids[3]]);
  const p2 = await stripe.paymentIntents.list({ customer: c.id, limit: 2, starting_after: p1.data[1].id });
  assert.deepEqual(p2.data.map((p) => p.id), [ids[2], ids[1]]);
  const all = [];
  for await (const pi of stripe.paymentIntents.list({ customer: c.id, limit: 2 })) all.push(pi.id);
  assert.deepEqual(all, ids.slice().reverse());
  const e = await rejects(stripe.paymentIntents.list({ limit: 101 }));
  assert.equal(e.param, 'limit');
});

test('refunds: partial, full, too much, and by charge', async () => {
  const pi = await pay('pm_card_visa');
  const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 500, reason: 'requested_by_customer' });
  assert.match(r1.id, /^re_/);
  assert.equal(r1.status, 'succeeded');
  assert.equal(r1.amount, 500);
  let e = await rejects(stripe.refunds.create({ charge: pi.latest_charge, amount: 1600 }));
  assert.equal(e.param, 'amount');
  const r2 = await stripe.refunds.create({ charge: pi.latest_charge });
  assert.equal(r2.amount, 1500);
  const ch = await stripe.charges.retrieve(pi.latest_charge);
  assert.equal(ch.refunded, true);
  assert.equal(ch.amount_refunded, 2000);
  e = await rejects(stripe.refunds.create({ payment_intent: pi.id }));
  assert.equal(e.code, 'charge_already_refunded');
  const list = await stripe.refunds.list({ payment_intent: pi.id });
  assert.equal(list.data.length, 2);
});

test('refund test cards: pending then succeeded; succeeded then failed', async () => {
  const p1 = await pay('pm_card_pendingRefund');
  const pending = await stripe.refunds.create({ payment_intent: p1.id });
  assert.equal(pending.status, 'pending');
  const p2 = await pay('pm_card_refundFail');
  const failing = await stripe.refunds.create({ payment_intent: p2.id });
  assert.equal(failing.status, 'succeeded');
  await advance(2 * 86400);
  assert.equal((await stripe.refunds.retrieve(pending.id)).status, 'succeeded');
  const failed = await stripe.refunds.retrieve(failing.id);
  assert.equal(failed.status, 'failed');
  assert.equal((await stripe.charges.retrieve(p2.latest_charge)).amount_refunded, 0);
});
