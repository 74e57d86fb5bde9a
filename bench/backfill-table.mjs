// The table bench/backfill.mjs backfills: the `users` of examples/postgres (bigint ids with
// gaps, `email`, `domain` to fill) with the columns a real users table has beside them, of
// varied length: a name, an email made of it (mixed-case domains of one to three labels), a
// short bio of 0 to ~600 characters, a city, a signup time. Rows average about 300 bytes,
// so a million rows are some 330 MB of heap, as a real table is, and not the few bytes a
// 'user123' row has (what a page holds, and so what an UPDATE dirties, depends on it).
// Made once per run as `bench_users_template` (pseudo-random from a fixed seed, so every
// round and every run gets the same rows), then copied into a fresh `users` before each
// scenario: no scenario sees the dead rows of the one before.
const FIRST = ['Maria', 'José', 'Wei', 'Aisha', 'John', 'Olga', 'Mohammed', 'Yuki', 'Fatima', 'Liam', 'Chloé', 'Ana', 'Dmitri',
  'Priya', 'Noah', 'Emma', 'Kwame', 'Sofia', 'Lucas', 'Ingrid', 'Mateo', 'Zainab', 'Hiroshi', 'Elena', 'Oliver', 'Amara',
  'Jean-Baptiste', 'Siobhan', 'Tomás', 'Nguyen', 'Alexandria', 'Bo', 'Ravi', 'Grace', 'Kai', 'Leila', 'Anders', 'Mei', 'Samuel', 'Ife']
const LAST = ['García', 'Smith', 'Wang', 'Khan', "O'Brien", 'Ivanova', 'Tanaka', 'Müller', 'Silva', 'Nakamura-Jones', 'Dubois', 'Kowalski',
  'Okafor', 'Patel', 'Johansson', 'Rossi', 'Haddad', 'Fernández', 'Kim', 'Novak', 'van der Berg', 'Andersen', 'Chen', 'Lopez',
  'Mensah', 'Schmidt', 'Yilmaz', 'Nielsen', 'Costa', 'Brown', 'Abubakar', 'Li', 'Moreau', 'Papadopoulos', 'Ng', 'Singh', 'Evans', 'Hoang', 'Ali', 'Wright']
const DOMAINS = ['gmail.com', 'Yahoo.com', 'outlook.com', 'hotmail.co.uk', 'Mail.Example.org', 'protonmail.ch', 'corp.acme-industries.com',
  'EXAMPLE.net', 'cs.university.edu', 'icloud.com', 'web.de', 'orange.fr', 'Consulting-Partners.io', 'mail.ru', 'qq.com', 'live.com']
const CITIES = ['Lisbon', 'São Paulo', 'Shanghai', 'Lagos', 'Toronto', 'Saint Petersburg', 'Osaka', 'Cairo', 'Dublin', 'Paris', 'Madrid',
  'Kraków', 'Accra', 'Bengaluru', 'Stockholm', 'Milan', 'Beirut', 'Buenos Aires', 'Seoul', 'Ljubljana', 'Rotterdam', 'Oslo', 'Hanoi']
const TEXT = `I build things for the web and occasionally break them in production. Coffee first, then code review. Previously at a
logistics startup where we moved parcels and a lot of JSON. Interested in distributed systems, sourdough, long bike rides and the history
of typography. Speaker at a few meetups about database migrations that did not go as planned, and what we learned from them. Parent of
two, owner of one very opinionated cat. Currently learning Portuguese and failing at it with great enthusiasm. Open source contributor:
mostly documentation fixes, some tests, once a real feature. Ask me about backfills, keyset pagination and why OFFSET is a trap. Based
somewhere with good trains. Views are my own and change with new evidence. Runner, reader, occasional photographer of old buildings.`.replace(/\n/g, ' ')

const literal = (values) => `ARRAY[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}]`

/** Makes `bench_users_template` of `rows` rows unless it holds that many already. */
export async function makeTemplate(db, rows) {
  const found = (await db.query("SELECT to_regclass('bench_users_template') IS NOT NULL AS found")).rows[0].found
  if (found && Number((await db.query('SELECT count(*) AS n FROM bench_users_template')).rows[0].n) === rows) return
  await db.query('DROP TABLE IF EXISTS bench_users_template')
  await db.query('CREATE TABLE bench_users_template (id bigint NOT NULL, name text NOT NULL, email text NOT NULL, domain text, bio text, city text, created_at timestamptz NOT NULL)')
  // One session: setseed() makes random() the same sequence every time.
  await db.query('BEGIN')
  await db.query('SELECT setseed(0.25)')
  await db.query(
    `INSERT INTO bench_users_template (id, name, email, bio, city, created_at)
     SELECT 2 * g, f || ' ' || l,
       lower(translate(f, 'éáóíüçñãèö -''', 'eaoiucnaeo.')) || (ARRAY['.', '_', '', '.'])[1 + (g % 4)] || lower(translate(l, 'éáóíüçñãèö -''', 'eaoiucnaeo.'))
         || CASE WHEN r1 < 0.5 THEN (g % 997)::text ELSE '' END || '@' || d,
       CASE WHEN r2 < 0.1 THEN NULL ELSE substr($2, 1 + (r1 * 350)::int, (r2 * r2 * 600)::int) END,
       c, timestamptz '2015-01-01' + (g::double precision / $1) * interval '3650 days'
     FROM (
       SELECT g, (${literal(FIRST)})[1 + (random() * ${FIRST.length - 1})::int] AS f,
         (${literal(LAST)})[1 + (random() * ${LAST.length - 1})::int] AS l,
         (${literal(DOMAINS)})[1 + (random() * random() * ${DOMAINS.length - 1})::int] AS d,
         (${literal(CITIES)})[1 + (random() * ${CITIES.length - 1})::int] AS c,
         random() AS r1, random() AS r2
       FROM generate_series(1, $1::int) AS g
     ) AS s`,
    [rows, TEXT],
  )
  await db.query('COMMIT')
}

/** A fresh `users` of the template's first `rows` rows (the example's primary key, fresh statistics), flushed to disk. */
export async function freshUsers(db, rows) {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new Error(`rows must be an integer >= 0, got ${rows}`)
  await db.query('DROP TABLE IF EXISTS users')
  await db.query(`CREATE TABLE users AS SELECT * FROM bench_users_template ORDER BY id LIMIT ${rows}`)
  await db.query('ALTER TABLE users ADD PRIMARY KEY (id)')
  // As a table in use is, vacuumed: its rows' hint bits set and its pages all-visible, so
  // reading its ids is an index-only scan (a table just copied would have its first reader
  // set hint bits and write every page). And the jobs module's total() reads the planner's
  // estimate, not count(*).
  await db.query('VACUUM (ANALYZE) users')
  await db.query('CHECKPOINT')
}
