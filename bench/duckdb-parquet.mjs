// DuckDB's side of bench/parquet: time COPY (SELECT * FROM read_csv(CSV)) TO
// DUCK (FORMAT parquet, COMPRESSION zstd), then a full scan of each Parquet
// file given (every column touched by an aggregate), best of RUNS.
// usage: node duckdb-parquet.mjs --modules DIR CSV DUCK RUNS PARQUET...
//   DIR is where `npm install @duckdb/node-api` was run (holds node_modules).
// Prints human-readable lines, then "RESULT copy_s=<s>" and one
// "RESULT scan FILE s=<s> rows=<n>" per file.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] !== '--modules' || args.length < 6) {
  console.error('usage: node duckdb-parquet.mjs --modules DIR CSV DUCK RUNS PARQUET...');
  process.exit(2);
}
const [, modules, csv, duck, runsArg, ...files] = args;
const runs = Number(runsArg);
const require = createRequire(path.join(path.resolve(modules), 'package.json'));
const { DuckDBInstance } = await import(
  pathToFileURL(require.resolve('@duckdb/node-api')).href);

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const q = (s) => s.replaceAll("'", "''");
const one = async (sql) => (await conn.runAndReadAll(sql)).getRows()[0];
const best = async (fn) => {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    b = Math.min(b, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return b;
};

const [version, threads] = await one("SELECT version(), current_setting('threads')");
console.log(`duckdb ${version}, threads=${threads}`);
const copy = await best(() => conn.run(
  `COPY (SELECT * FROM read_csv('${q(csv)}')) TO '${q(duck)}' (FORMAT parquet, COMPRESSION zstd)`));
console.log(`RESULT copy_s=${copy.toFixed(3)}`);
// the scans interleaved, file after file, so that a load that comes and
// goes on a shared machine falls on both alike; the best of each reported
const sql = (f) => `SELECT count(*), sum(price), sum(amount), min("timestamp"), max(local_timestamp),
    count(*) FILTER (WHERE is_snapshot), count(*) FILTER (WHERE side = 'bid'),
    min(exchange), max(symbol) FROM read_parquet('${q(f)}')`;
const scans = files.map(() => Infinity);
const rows = [];
for (let i = 0; i < Math.max(runs, 5); i++) {
  for (const [k, f] of files.entries()) {
    const t0 = process.hrtime.bigint();
    rows[k] = (await one(sql(f)))[0];
    scans[k] = Math.min(scans[k], Number(process.hrtime.bigint() - t0) / 1e9);
  }
}
for (const [k, f] of files.entries()) {
  const types = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${q(f)}')`))
    .getRows().map((r) => `${r[0]}:${r[1]}`).join(' ');
  console.log(`${path.basename(f)}: ${types}`);
  console.log(`RESULT scan ${path.basename(f)} s=${scans[k].toFixed(3)} rows=${rows[k]}`);
}
conn.closeSync();
instance.closeSync();
