import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Each tenant's own webhook signing secrets (issue 13): one shared WEBHOOK_SECRET let any tenant
 * given it forge another's webhooks. A rotation leaves two rows signing at once, the older with an
 * `expires_at`; a row signs while `expires_at` is null or in the future.
 *
 * The secret is stored as is, not hashed: the worker needs it to sign, and the project has no
 * encryption key setting to seal it with. It is read by the worker only, never listed or logged.
 * A null secret stands for WEBHOOK_SECRET: a tenant's first rotation away from the shared secret
 * keeps it signing through the overlap, like any other previous secret.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhook_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('secret', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webhook_secrets_tenant').on('webhook_secrets').columns(['tenant_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_secrets').ifExists().execute();
}
