// arrow-read.mjs - read an Arrow IPC stream with the npm package
// apache-arrow (Arrow's own JavaScript library) and write its rows as CSV
// on stdout: a header line of the field names, then the rows; null as an
// empty field, booleans as true/false, timestamps as integer microseconds
// (a value with a fraction of a microsecond keeps it: "12.345"), decimals
// as exact strings built from their 128-bit two's complement words and the
// field's scale. Used by test/arrow.bats.
// usage: node arrow-read.mjs --modules DIR [--schema] FILE
//   DIR is where `npm install apache-arrow` was run (make test-deps).
//   --schema: write instead one line per field (name, type, nullable),
//   then the schema's metadata as key=value lines, then batches=N (the
//   record batches read) and rows=N.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] !== '--modules' || args.length < 3) {
  console.error('usage: node arrow-read.mjs --modules DIR [--schema] FILE');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(args[1]), 'package.json'));
const arrow = await import(pathToFileURL(require.resolve('apache-arrow')).href);
const schemaOnly = args[2] === '--schema';
const file = args[schemaOnly ? 3 : 2];

let table;
try {
  table = arrow.tableFromIPC(fs.readFileSync(file === '-' ? 0 : file));
} catch (err) {
  console.error(`arrow-read: ${file}: ${err.message}`);
  process.exit(1);
}

const field = (v) => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
};

if (schemaOnly) {
  const out = table.schema.fields.map((f) => [f.name, String(f.type), f.nullable].map(field).join(','));
  for (const [k, v] of table.schema.metadata) out.push(`${k}=${v}`);
  out.push(`batches=${table.batches.length}`, `rows=${table.numRows}`);
  process.stdout.write(out.join('\n') + '\n');
  process.exit(0);
}

// the raw bytes of a column chunk's values, as a DataView
const view = (data) => new DataView(data.values.buffer, data.values.byteOffset, data.values.byteLength);

// a 128-bit two's complement integer at byte o, as a decimal of scale s
const decimal = (dv, o, s) => {
  const lo = dv.getBigUint64(o, true), hi = dv.getBigInt64(o + 8, true);
  let v = (hi << 64n) | lo;
  const neg = v < 0n;
  if (neg) v = -v;
  let t = v.toString();
  if (s > 0) {
    t = t.padStart(s + 1, '0');
    t = t.slice(0, t.length - s) + '.' + t.slice(t.length - s);
  }
  return (neg ? '-' : '') + t;
};

const T = arrow.Type;
const out = [table.schema.fields.map((f) => field(f.name)).join(',')];
for (const batch of table.batches) {
  const cols = table.schema.fields.map((f, i) => {
    const vec = batch.getChildAt(i), data = vec.data[0];
    const o = data.offset;
    switch (f.type.typeId) {
      case T.Decimal: {
        const dv = view(data), s = f.type.scale;
        return (r) => vec.isValid(r) ? decimal(dv, 16 * (o + r), s) : null;
      }
      case T.Timestamp: {
        const dv = view(data);
        return (r) => {
          if (!vec.isValid(r)) return null;
          const ns = dv.getBigInt64(8 * (o + r), true);
          const us = ns / 1000n, rest = ns % 1000n;
          return rest === 0n ? us.toString() : `${us}.${String(rest).padStart(3, '0')}`;
        };
      }
      default:
        return (r) => vec.get(r);
    }
  });
  for (let r = 0; r < batch.numRows; r++) out.push(cols.map((c) => field(c(r))).join(','));
}
process.stdout.write(out.join('\n') + '\n');
