// duckdb-query.mjs - run one SQL query with DuckDB's own library and write
// its result as CSV on stdout: a header line of the column names, then the
// rows; NULL as an empty field, booleans as true/false, every other value
// as DuckDB writes it (decimals exact). Used by test/parquet.bats.
// usage: node duckdb-query.mjs --modules DIR SQL...
//   DIR is where `npm install @duckdb/node-api` was run (make test-deps).
// Several SQL arguments run in order; the last one's result is written.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] !== '--modules' || args.length < 3) {
  console.error('usage: node duckdb-query.mjs --modules DIR SQL...');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(args[1]), 'package.json'));
const { DuckDBInstance } = await import(
  pathToFileURL(require.resolve('@duckdb/node-api')).href);

const field = (v) => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
};

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
let result;
try {
  for (const sql of args.slice(2)) result = await conn.runAndReadAll(sql);
} catch (err) {
  console.error(`duckdb-query: ${err.message}`);
  process.exit(1);
}
const out = [result.columnNames().map(field).join(',')];
for (const row of result.getRows()) out.push(row.map(field).join(','));
process.stdout.write(out.join('\n') + '\n');
conn.closeSync();
instance.closeSync();
