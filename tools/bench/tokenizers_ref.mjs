#!/usr/bin/env node
// The Hugging Face side of `radix bench tokenizer`: times HF `tokenizers` (the native npm
// binding @anush008/tokenizers, installed in tests/e2e/node_modules by
// scripts/test-setup.sh) on the corpus radix just encoded, and prints one JSON object.
//
//   node tools/bench/tokenizers_ref.mjs --tokenizer tokenizer.json --corpus docs.jsonl
//        [--iterations 3] [--no-special] [--modules tests/e2e/node_modules]
//
// - "encode": one `await tokenizer.encode(doc)` per document, one at a time, as radix
//   encodes. Each call crosses into Rust on a libuv worker thread; only the awaited call
//   is timed (reading the ids back into JavaScript is not).
// - "encode_batch": one `encodeBatch(all docs)` per pass with TOKENIZERS_PARALLELISM=false,
//   i.e. one thread and no per-call overhead: the Rust library's own speed.
// - "docs": [token count, FNV-1a hash of the ids] per document (first pass), which radix
//   compares with its own.
// Output: {"version", "bytes", "encode": {"seconds": [...], "tokens"}, "encode_batch": {...},
//          "docs": [[n, hash], ...]}
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

// Read by tokenizers on every batch call; set before the first one.
process.env.TOKENIZERS_PARALLELISM = 'false';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function parseArgs(argv) {
  const args = { tokenizer: null, corpus: null, iterations: 3, special: true,
    modules: path.join(root, 'tests/e2e/node_modules') };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--tokenizer') args.tokenizer = next();
    else if (a === '--corpus') args.corpus = next();
    else if (a === '--iterations') args.iterations = Number(next());
    else if (a === '--no-special') args.special = false;
    else if (a === '--modules') args.modules = path.resolve(next());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.tokenizer || !args.corpus) throw new Error('--tokenizer and --corpus are required');
  if (!(args.iterations >= 1)) throw new Error('--iterations must be >= 1');
  return args;
}

function fnv1aIds(ids) {
  let h = 0x811c9dc5;
  for (const id of ids) h = Math.imul(h ^ id, 0x01000193) >>> 0;
  return h;
}

async function main() {
  const args = parseArgs(process.argv);
  const pkg = path.join(args.modules, '@anush008/tokenizers');
  if (!fs.existsSync(pkg)) {
    throw new Error(`${pkg} is missing: run scripts/test-setup.sh (or pass --no-reference to radix)`);
  }
  const require = createRequire(path.join(args.modules, 'package.json'));
  const { Tokenizer } = require('@anush008/tokenizers');
  const version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;

  const docs = fs.readFileSync(args.corpus, 'utf8').split('\n').filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d, 'utf8'), 0);
  const tok = Tokenizer.fromFile(args.tokenizer);
  const options = { addSpecialTokens: args.special };

  const encode = { seconds: [], tokens: 0 };
  const summary = new Array(docs.length);
  for (let pass = 0; pass < args.iterations; pass++) {
    let elapsed = 0;
    let tokens = 0;
    for (let d = 0; d < docs.length; d++) {
      const t0 = performance.now();
      const e = await tok.encode(docs[d], null, options);
      elapsed += performance.now() - t0;
      const ids = e.getIds();
      tokens += ids.length;
      if (pass === 0) summary[d] = [ids.length, fnv1aIds(ids)];
    }
    encode.seconds.push(elapsed / 1000);
    encode.tokens = tokens;
  }

  const batch = { seconds: [], tokens: 0 };
  for (let pass = 0; pass < args.iterations; pass++) {
    const t0 = performance.now();
    const all = await tok.encodeBatch(docs, options);
    batch.seconds.push((performance.now() - t0) / 1000);
    batch.tokens = all.reduce((s, e) => s + e.getLength(), 0);
  }

  process.stdout.write(JSON.stringify({
    version: `@anush008/tokenizers ${version} (HF tokenizers 0.22, node ${process.version})`,
    bytes, encode, encode_batch: batch, docs: summary,
  }) + '\n');
}

main().catch((e) => {
  console.error(`tokenizers_ref: ${e.message}`);
  process.exit(1);
});
