// Reference point for bench/import: time DuckDB's CSV import of a file
// (CREATE TABLE t AS SELECT * FROM read_csv(FILE), in memory), then verify it.
// usage: node duckdb-csv.mjs --modules DIR FILE [EXPECTED_ROWS]
//   DIR is where `npm install @duckdb/node-api` was run (holds node_modules).
// Prints human-readable lines, then "RESULT create_s=<s> rows=<n>"; exits 1 if
// the table's row count differs from EXPECTED_ROWS.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function usage() {
  console.error('usage: node duckdb-csv.mjs --modules DIR FILE [EXPECTED_ROWS]');
  process.exit(2);
}

const args = process.argv.slice(2);
let modules = null;
if (args[0] === '--modules') {
  modules = args[1];
  args.splice(0, 2);
}
if (!modules || args.length < 1 || args.length > 2) usage();
const file = args[0];
const expected = args.length > 1 ? BigInt(args[1]) : null;

// Load @duckdb/node-api from the work dir rather than from next to this script.
const require = createRequire(path.join(path.resolve(modules), 'package.json'));
const { DuckDBInstance } = await import(
  pathToFileURL(require.resolve('@duckdb/node-api')).href);

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const one = async (sql) => (await conn.runAndReadAll(sql)).getRows()[0];

const [version, threads] = await one(
  "SELECT version(), current_setting('threads')");
const quoted = file.replaceAll("'", "''");

const t0 = process.hrtime.bigint();
await conn.run(`CREATE TABLE t AS SELECT * FROM read_csv('${quoted}')`);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;

// The table is fully materialised, so every column was parsed; show the
// sniffed types and touch the numeric columns as a sanity check.
const schema = (await conn.runAndReadAll('DESCRIBE t')).getRows()
  .map((r) => `${r[0]}:${r[1]}`).join(' ');
const [rows, maxLocal, sumAmount] = await one(
  'SELECT count(*), max(local_timestamp), sum(amount) FROM t');

console.log(`duckdb ${version}, threads=${threads}`);
console.log(`schema: ${schema}`);
console.log(`rows=${rows} max(local_timestamp)=${maxLocal} sum(amount)=${sumAmount}`);
console.log(`create table: ${secs.toFixed(3)} s, ` +
  `${(Number(rows) / secs / 1e6).toFixed(2)} M rows/s`);

conn.closeSync();
instance.closeSync();

if (expected !== null && rows !== expected) {
  console.error(`FAIL: duckdb loaded ${rows} rows, expected ${expected}`);
  process.exit(1);
}
console.log(`RESULT create_s=${secs.toFixed(6)} rows=${rows}`);
