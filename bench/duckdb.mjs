// The analyst's embedded engine as a reference for bench/run.sh: DuckDB,
// through its Node binding (npm install @duckdb/node-api, which run.sh does
// under $BENCH_DATA/duckdb). Each call does one job on a DuckDB file and
// prints the milliseconds that job took inside the process (the Node start
// and the opening of the file are not counted):
//
//   node duckdb.mjs load   DB EVENTS.jsonl   the JSONL into a table
//   node duckdb.mjs list   DB SINCE          user+type+since, newest 50
//   node duckdb.mjs export DB OUT.csv        every row as CSV, seq order
//   node duckdb.mjs stats  DB FROM TO        counts by type in [FROM, TO)
//   node duckdb.mjs version                  DuckDB's version
import { DuckDBInstance } from '@duckdb/node-api';

const [job, db, a, b] = process.argv.slice(2);
if (job === 'version') {
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  console.log((await conn.runAndReadAll('SELECT version()')).getRows()[0][0]);
  process.exit(0);
}
const quote = (s) => "'" + String(s).replaceAll("'", "''") + "'";
const sql = {
  load: () => `CREATE TABLE events AS SELECT row_number() OVER () AS seq, * EXCLUDE (seq)
    FROM read_json(${quote(a)}, format = 'newline_delimited', columns = {
      id: 'VARCHAR', seq: 'BIGINT', time: 'TIMESTAMPTZ', user: 'VARCHAR', user_name: 'VARCHAR',
      type: 'VARCHAR', action: 'VARCHAR', resource_type: 'VARCHAR', resource: 'VARCHAR',
      details: 'VARCHAR', ip: 'VARCHAR', outcome: 'VARCHAR', hash: 'VARCHAR', source: 'VARCHAR'})`,
  list: () => `SELECT * FROM events WHERE user = 'jdavis' AND type = 'security'
    AND time >= ${quote(a)}::TIMESTAMPTZ ORDER BY time DESC LIMIT 50`,
  export: () => `COPY (SELECT id, seq, time, user, user_name, type, action, resource_type,
    resource, details, ip, outcome, hash FROM events ORDER BY seq) TO ${quote(a)} (HEADER, DELIMITER ',')`,
  stats: () => `SELECT type, count(*) FROM events WHERE time >= ${quote(a)}::TIMESTAMPTZ
    AND time < ${quote(b)}::TIMESTAMPTZ GROUP BY type ORDER BY 2 DESC`,
}[job];
if (!sql || !db || !a) {
  console.error('usage: node duckdb.mjs load|list|export|stats DB ARG [ARG]');
  process.exit(2);
}
const conn = await (await DuckDBInstance.create(db)).connect();
const t0 = performance.now();
await conn.runAndReadAll(sql());
console.log(Math.round(performance.now() - t0));
