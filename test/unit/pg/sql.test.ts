import { describe, expect, it } from 'vitest'
import { quote, tableQueries } from '../../../src/pg/sql.js'

describe('pgTable statements', () => {
  it('quote doubles quotes in identifiers', () => {
    expect(quote('my"table')).toBe('"my""table"')
  })

  it('one key column: pages by key > $k, the shard by key mod n', () => {
    const { histogramTop, ...queries } = tableQueries({ table: 'app.users', keys: ['id'], select: '*', where: '', params: 0 })
    expect(histogramTop).toMatch(
      / FROM pg_stats s .* WHERE c\.oid = to_regclass\(\$1\) AND s\.attname = \$2 AND s\.histogram_bounds IS NOT NULL$/,
    )
    expect(queries).toEqual({
      first: 'SELECT * FROM "app"."users" ORDER BY "id" LIMIT $1',
      next: 'SELECT * FROM "app"."users" WHERE "id" > $2 ORDER BY "id" LIMIT $1',
      firstShard: 'SELECT * FROM "app"."users" WHERE (("id" % $2) + $2) % $2 = $3 ORDER BY "id" LIMIT $1',
      nextShard: 'SELECT * FROM "app"."users" WHERE "id" > $2 AND (("id" % $3) + $3) % $3 = $4 ORDER BY "id" LIMIT $1',
      explain: 'EXPLAIN (FORMAT JSON) SELECT 1 FROM "app"."users"',
      count: 'SELECT count(*) AS n FROM "app"."users"',
      countShard: 'SELECT count(*) AS n FROM "app"."users" WHERE (("id" % $1) + $1) % $1 = $2',
      bounds: 'SELECT min("id") AS lo, max("id") AS hi FROM "app"."users"',
      top: 'SELECT max("id") AS hi FROM "app"."users"',
      explainAtOrBefore: 'EXPLAIN (FORMAT JSON) SELECT 1 FROM "app"."users" WHERE "id" <= $1',
      table: '"app"."users"',
      keys: {
        first: `SELECT string_agg("id"::text, ',' ORDER BY "id") AS keys FROM (SELECT "id" FROM "app"."users" ORDER BY "id" LIMIT $1) AS page`,
        next: `SELECT string_agg("id"::text, ',' ORDER BY "id") AS keys FROM (SELECT "id" FROM "app"."users" WHERE "id" > $2 ORDER BY "id" LIMIT $1) AS page`,
        firstShard: `SELECT string_agg("id"::text, ',' ORDER BY "id") AS keys FROM (SELECT "id" FROM "app"."users" WHERE (("id" % $2) + $2) % $2 = $3 ORDER BY "id" LIMIT $1) AS page`,
        nextShard: `SELECT string_agg("id"::text, ',' ORDER BY "id") AS keys FROM (SELECT "id" FROM "app"."users" WHERE "id" > $2 AND (("id" % $3) + $3) % $3 = $4 ORDER BY "id" LIMIT $1) AS page`,
      },
    })
  })

  it("a page of keys alone is the page's key column joined by commas, in key order, with the same parameters", () => {
    const q = tableQueries({ table: 't', keys: ['user id'], select: '"user id"', where: 'active = $1', params: 1 })
    const page = (where: string): string =>
      `SELECT string_agg("user id"::text, ',' ORDER BY "user id") AS keys FROM (SELECT "user id" FROM "t" WHERE ${where} ORDER BY "user id" LIMIT $2) AS page`
    // [...params, limit, key]: the same values as the page of rows it stands for.
    expect(q.keys.next).toBe(page('(active = $1) AND "user id" > $3'))
    expect(q.next).toBe('SELECT "user id" FROM "t" WHERE (active = $1) AND "user id" > $3 ORDER BY "user id" LIMIT $2')
    expect(q.keys.nextShard).toBe(page('(active = $1) AND "user id" > $3 AND (("user id" % $4) + $4) % $4 = $5'))
  })

  it('a composite key: a row comparison after the where clause and its parameters, the shard on the first column', () => {
    const q = tableQueries({
      table: 'orders',
      keys: ['tenant_id', 'id'],
      select: '"tenant_id", "id", "total"',
      where: 'status = $1 OR status = $2',
      params: 2,
    })
    const select = 'SELECT "tenant_id", "id", "total" FROM "orders"'
    expect(q.first).toBe(`${select} WHERE (status = $1 OR status = $2) ORDER BY "tenant_id", "id" LIMIT $3`)
    // [...params, limit, tenant_id, id]: the limit is $3, the key $4 and $5.
    expect(q.next).toBe(
      `${select} WHERE (status = $1 OR status = $2) AND ("tenant_id", "id") > ($4, $5) ORDER BY "tenant_id", "id" LIMIT $3`,
    )
    // [...params, limit, count, index - 1]
    expect(q.firstShard).toBe(
      `${select} WHERE (status = $1 OR status = $2) AND (("tenant_id" % $4) + $4) % $4 = $5 ORDER BY "tenant_id", "id" LIMIT $3`,
    )
    // [...params, limit, tenant_id, id, count, index - 1]
    expect(q.nextShard).toBe(
      `${select} WHERE (status = $1 OR status = $2) AND ("tenant_id", "id") > ($4, $5) AND (("tenant_id" % $6) + $6) % $6 = $7 ORDER BY "tenant_id", "id" LIMIT $3`,
    )
    expect(q.countShard).toBe(
      'SELECT count(*) AS n FROM "orders" WHERE (status = $1 OR status = $2) AND (("tenant_id" % $3) + $3) % $3 = $4',
    )
    expect(q.bounds).toBe('SELECT min("tenant_id") AS lo, max("tenant_id") AS hi FROM "orders" WHERE (status = $1 OR status = $2)')
    expect(q.top).toBe('SELECT max("tenant_id") AS hi FROM "orders" WHERE (status = $1 OR status = $2)')
    // [...params, tenant_id, id], spelled out for the planner (it estimates a row comparison by its first column)
    expect(q.explainAtOrBefore).toBe(
      'EXPLAIN (FORMAT JSON) SELECT 1 FROM "orders" WHERE (status = $1 OR status = $2) AND ("tenant_id" < $3 OR ("tenant_id" = $3 AND "id" <= $4))',
    )
  })

  it('three key columns compare as one row', () => {
    const q = tableQueries({ table: 't', keys: ['a', 'b"c', 'd'], select: '*', where: '', params: 0 })
    expect(q.next).toBe('SELECT * FROM "t" WHERE ("a", "b""c", "d") > ($2, $3, $4) ORDER BY "a", "b""c", "d" LIMIT $1')
    expect(q.nextShard).toBe(
      'SELECT * FROM "t" WHERE ("a", "b""c", "d") > ($2, $3, $4) AND (("a" % $5) + $5) % $5 = $6 ORDER BY "a", "b""c", "d" LIMIT $1',
    )
    expect(q.explainAtOrBefore).toBe(
      'EXPLAIN (FORMAT JSON) SELECT 1 FROM "t" WHERE ("a" < $1 OR ("a" = $1 AND ("b""c" < $2 OR ("b""c" = $2 AND "d" <= $3))))',
    )
  })
})
