// research.test.js — the test clock and the issuer model: recovery after
// payday, a replaced card, hard declines, and a book of customers.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Stripe = require('stripe');
const { client, admin, advance, rejects } = require('./helpers');

const stripe = client();
const DAY = 86400;

async function customerWith(kind, params = {}) {
  const c = await stripe.customers.create({ payment_method: 'pm_card_visa' });
  const pms = await stripe.customers.listPaymentMethods(c.id);
  await stripe.customers.update(c.id, { invoice_settings: { default_payment_method: pms.data[0].id } });
  const m = await admin('POST', `/_sim/customers/${c.id}/issuer`, { kind, ...params });
  return { c, pm: pms.data[0].id, m };
}

const charge = (c, pm) =>
  stripe.paymentIntents.create({ amount: 1500, currency: 'usd', customer: c.id, payment_method: pm, confirm: true, off_session: true });

test('the clock moves only forwards and reports sim time', async () => {
  const before = await admin('GET', '/_sim/clock');
  const after = await advance(3600);
  assert.ok(after.now >= before.now + 3600);
  await assert.rejects(admin('POST', '/_sim/clock/advance', { seconds: '-5' }));
});

test('insufficient funds clear after the next payday', async () => {
  const { c, pm, m } = await customerWith('insufficient_funds', { payday: '15' });
  assert.equal(m.kind, 'insufficient_funds');
  assert.ok(m.recovers_at > m.first_failure);
  const e = await rejects(charge(c, pm));
  assert.equal(e.raw.decline_code, 'insufficient_funds');
  const now = (await admin('GET', '/_sim/clock')).now;
  await advance(m.recovers_at - now + 60);
  const ok = await charge(c, pm);
  assert.equal(ok.status, 'succeeded');
});

test('a replaced card: the old one keeps failing, the new default pays', async () => {
  const { c, pm, m } = await customerWith('card_replaced', { days: '5' });
  const e = await rejects(charge(c, pm));
  assert.equal(e.code, 'expired_card');
  await advance(6 * DAY);
  const cus = await stripe.customers.retrieve(c.id);
  const fresh = cus.invoice_settings.default_payment_method;
  assert.notEqual(fresh, pm);
  assert.equal((await rejects(charge(c, pm))).code, 'expired_card');
  assert.equal((await charge(c, fresh)).status, 'succeeded');
  const revealed = await admin('GET', `/_sim/customers/${c.id}/issuer`);
  assert.equal(revealed.replaced, true);
  assert.ok(revealed.attempts >= 3);
  assert.equal(m.kind, 'card_replaced');
});

test('a hard decline never recovers', async () => {
  const { c, pm } = await customerWith('hard_decline', { code: 'stolen_card' });
  for (let i = 0; i < 3; i++) {
    const e = await rejects(charge(c, pm));
    assert.equal(e.raw.decline_code, 'stolen_card');
    await advance(10 * DAY);
  }
});

test('random behaviours are drawn from the seeded mix', async () => {
  const kinds = new Set();
  for (let i = 0; i < 25; i++) kinds.add((await customerWith('random')).m.kind);
  assert.ok(kinds.size >= 3, [...kinds].join(','));
  await assert.rejects(admin('POST', '/_sim/customers/cus_nope/issuer', { kind: 'none' }));
  const c = await stripe.customers.create({});
  await assert.rejects(admin('POST', `/_sim/customers/${c.id}/issuer`, { kind: 'sometimes' }));
});

test('a book of customers: each gets a default card, a behaviour and an open invoice', async () => {
  const tsv = [
    'email\tcard\tamount\tcurrency\tcountry\tfirst_failure_days\tbehaviour\tparams',
    '# comment',
    'ana@example.com\tpm_card_visa\t4900\tusd\tUS\t0\tinsufficient_funds\tpayday=15',
    'bo@example.com\t4000000000000341\t1200\teur\tDE\t2.5\thard_decline\tcode=stolen_card',
    'cy@example.com\tpm_card_mastercard\t990\tgbp\tGB\t0\tnone',
  ].join('\n');
  const { created } = await admin('POST', '/_sim/book', { tsv });
  assert.equal(created.length, 3);
  const [ana, bo, cy] = created;
  const inv = await stripe.invoices.retrieve(ana.invoice);
  assert.equal(inv.status, 'open');
  assert.equal(inv.amount_due, 4900);
  assert.equal(inv.customer, ana.customer);
  const anaPay = await rejects(stripe.invoices.pay(ana.invoice));
  assert.equal(anaPay.raw.decline_code, 'insufficient_funds');
  const pm = await stripe.paymentMethods.retrieve(bo.payment_method);
  assert.equal(pm.card.country, 'DE');
  assert.equal(pm.card.last4, '0341');
  const boCus = await stripe.customers.retrieve(bo.customer);
  assert.equal(boCus.metadata.issuer_country, 'DE');
  assert.equal(boCus.invoice_settings.default_payment_method, bo.payment_method);
  const paid = await stripe.invoices.pay(cy.invoice);
  assert.equal(paid.status, 'paid');
  assert.equal(paid.currency, 'gbp');
  await assert.rejects(admin('POST', '/_sim/book', { tsv: 'x@y\tpm_card_nope\t1\tusd\tUS\t0\tnone' }));
});
