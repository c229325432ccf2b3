/** A small database with the shapes a real one has (text, numbers, timestamps, json, bytes) and its fingerprint. */
import { adminQuery } from "./pg";

/** How a query reaches the server: adminQuery (the machine's PostgreSQL) or another server's (tests/helpers/pg17.ts). */
type Query = (sql: string, params: unknown[], database: string) => Promise<{ rows: Record<string, unknown>[] }>;

export async function seedShop(database: string, customers = 2000, query: Query = adminQuery): Promise<void> {
  await query(
    `CREATE TABLE customers (
       id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created_at timestamptz NOT NULL,
       balance numeric(12,2), notes text, profile jsonb, avatar bytea);
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2), placed_at timestamp);
     CREATE INDEX orders_customer ON orders(customer_id);
     INSERT INTO customers (name, email, created_at, balance, notes, profile, avatar)
       SELECT 'Customer ' || g, 'c' || g || '@example.com', timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes',
              (g * 7919 % 100000) / 100.0, md5(g::text) || ' ' || repeat('note ', g % 5),
              jsonb_build_object('tier', g % 3, 'tags', jsonb_build_array('a' || g % 7, 'b')), decode(md5(g::text), 'hex')
       FROM generate_series(1, $1::int) g;
     INSERT INTO orders (customer_id, total, placed_at)
       SELECT 1 + g % $1::int, (g % 500) + 0.99, timestamp '2024-06-01' + g * interval '1 hour' FROM generate_series(1, $1::int * 3) g;`.replace(/\$1/g, String(customers)),
    [],
    database,
  );
}

/** Row counts and an md5 over every row of every table, in key order. */
export async function fingerprint(database: string, query: Query = adminQuery): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of ["customers", "orders"]) {
    const r = await query(`SELECT count(*)::text AS n, md5(string_agg(x::text, '|' ORDER BY x.id)) AS h FROM ${t} x`, [], database);
    out[t] = `${r.rows[0].n}:${r.rows[0].h}`;
  }
  return out;
}
