// invoices.test.js — invoices enough for dunning: the attach-then-fail card
// declines, a new default payment method pays; void; events.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { client, rejects } = require('./helpers');

const stripe = client();

async function openInvoice(customer, amount) {
  await stripe.invoiceItems.create({ customer, amount, currency: 'usd', description: 'Pro plan' });
  const draft = await stripe.invoices.create({ customer, collection_method: 'charge_automatically' });
  assert.equal(draft.status, 'draft');
  assert.equal(draft.amount_due, amount);
  const open = await stripe.invoices.finalizeInvoice(draft.id);
  assert.equal(open.status, 'open');
  assert.ok(open.number);
  return open;
}

test('dunning: pm_card_chargeCustomerFail declines, a new default card pays', async () => {
  const c = await stripe.customers.create({ email: 'dunning@example.com' });
  const bad = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id });
  await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: bad.id } });
  const inv = await openInvoice(c.id, 4900);
  const e = await rejects(stripe.invoices.pay(inv.id));
  assert.ok(e instanceof Stripe.errors.StripeCardError);
  assert.equal(e.code, 'card_declined');
  assert.equal(e.raw.decline_code, 'generic_decline');
  let now = await stripe.invoices.retrieve(inv.id);
  assert.equal(now.status, 'open');
  assert.equal(now.attempt_count, 1);
  assert.equal(now.attempted, true);
  await rejects(stripe.invoices.pay(inv.id));
  assert.equal((await stripe.invoices.retrieve(inv.id)).attempt_count, 2);
  const good = await stripe.paymentMethods.attach('pm_card_visa', { customer: c.id });
  await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: good.id } });
  const paid = await stripe.invoices.pay(inv.id);
  assert.equal(paid.status, 'paid');
  assert.equal(paid.paid, true);
  assert.equal(paid.amount_paid, 4900);
  assert.equal(paid.amount_remaining, 0);
  assert.equal(paid.attempt_count, 3);
  const pi = await stripe.paymentIntents.retrieve(paid.payment_intent);
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.amount, 4900);
  const events = await stripe.events.list({ type: 'invoice.payment_failed', limit: 100 });
  assert.ok(events.data.filter((ev) => ev.data.object.id === inv.id).length >= 2);
  const paidEvents = await stripe.events.list({ type: 'invoice.paid', limit: 10 });
  assert.equal(paidEvents.data[0].data.object.id, inv.id);
  const e2 = await rejects(stripe.invoices.pay(inv.id));
  assert.equal(e2.code, 'invoice_already_paid');
});

test('paying a draft finalizes it; no payment method is an error; void', async () => {
  const c = await stripe.customers.create({});
  await stripe.invoiceItems.create({ customer: c.id, amount: 1200, currency: 'eur' });
  const draft = await stripe.invoices.create({ customer: c.id });
  const e = await rejects(stripe.invoices.pay(draft.id));
  assert.equal(e.statusCode, 400);
  const inv = await stripe.invoices.retrieve(draft.id);
  assert.equal(inv.status, 'open');
  const paid = await stripe.invoices.pay(inv.id, { payment_method: 'pm_card_mastercard' });
  assert.equal(paid.status, 'paid');
  const other = await openInvoice(c.id, 300);
  const voided = await stripe.invoices.voidInvoice(other.id);
  assert.equal(voided.status, 'void');
  const e3 = await rejects(stripe.invoices.pay(other.id));
  assert.equal(e3.statusCode, 400);
  const list = await stripe.invoices.list({ customer: c.id, status: 'void' });
  assert.deepEqual(list.data.map((i) => i.id), [other.id]);
});
