// The peer's backfill of customers, timed: `node backfill.mjs` with DATABASE_URL,
// STRIPE_API_BASE (the fake's URL) and STRIPE_API_KEY set. Prints one JSON line.
//
// The engine builds its Stripe client from the secret key alone (api.stripe.com). Its
// `stripe` property is public, so it is replaced by a client of the same library version
// pointed at the fake with stripe-node's documented host/port/protocol options; nothing of
// the engine itself is patched.
import { createRequire } from 'node:module';
import Stripe from 'stripe';
import { StripeSync } from '@supabase/stripe-sync-engine';

// The ESM build's runMigrations finds its SQL files with `__dirname`, which ES modules do
// not have; the error is only logged and no table is made. The CommonJS build works.
const { runMigrations } = createRequire(import.meta.url)('@supabase/stripe-sync-engine');

const { DATABASE_URL, STRIPE_API_BASE, STRIPE_API_KEY } = process.env;
if (!DATABASE_URL || !STRIPE_API_BASE || !STRIPE_API_KEY) {
  console.error('set DATABASE_URL, STRIPE_API_BASE and STRIPE_API_KEY');
  process.exit(2);
}

let failed = null;
const logger = { info() {}, warn() {}, debug() {}, error(e) { failed = e; } };
await runMigrations({ databaseUrl: DATABASE_URL, schema: 'stripe', logger });
if (failed) {
  console.error('migrations failed:', failed);
  process.exit(1);
}

const sync = new StripeSync({
  poolConfig: { connectionString: DATABASE_URL, max: 10 },
  stripeSecretKey: STRIPE_API_KEY,
});
const base = new URL(STRIPE_API_BASE);
sync.stripe = new Stripe(STRIPE_API_KEY, {
  host: base.hostname,
  port: Number(base.port),
  protocol: base.protocol.replace(':', ''),
  appInfo: { name: 'Stripe Postgres Sync' },
});

const started = performance.now();
const result = await sync.syncBackfill({ object: 'customer' });
const seconds = (performance.now() - started) / 1000;
await sync.postgresClient.pool.end();
console.log(JSON.stringify({ synced: result.customers?.synced ?? 0, seconds }));
