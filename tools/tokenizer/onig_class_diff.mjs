#!/usr/bin/env node
// Measures which code points Hugging Face tokenizers' regex engine (Oniguruma, through
// the npm binding @anush008/tokenizers) puts in each character class, and compares with
// the lists probe_pcre2_classes prints for radix's PCRE2. The differences are the extra
// ranges in tokenizer/regex.cpp (translate_onig). Run from the repo root after
// scripts/test-setup.sh:
//   g++ -std=c++20 -O2 -I. tools/tokenizer/probe_pcre2_classes.cpp build/libradix_tokenizer.a \
//       build/libradix_core.a -lpcre2-8 -lutf8proc -lspdlog -lfmt -o /tmp/probe_pcre2
//   /tmp/probe_pcre2 '\s' '\p{L}' '\p{N}' '\p{P}' '\p{S}' '\p{M}' > /tmp/pcre2.json
//   node tools/tokenizer/onig_class_diff.mjs /tmp/pcre2.json
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve('tests/e2e/package.json'));
const { Tokenizer } = require('@anush008/tokenizers');
const pcre2 = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

function onigMembers(pattern) {
  const cfg = { version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: pattern }, behavior: 'Removed', invert: false },
    post_processor: null, decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { a: 0 }, merges: [] } };
  const pre = Tokenizer.fromString(JSON.stringify(cfg)).getPreTokenizer();
  const members = [];
  for (let base = 0; base < 0x110000; base += 4096) {
    const cps = [];
    for (let c = base; c < base + 4096; c++) if (c < 0xd800 || c > 0xdfff) cps.push(c);
    const kept = new Set();
    // Offsets are in code points; what the pattern matched was removed.
    for (const [piece, [a]] of pre.preTokenizeString(String.fromCodePoint(...cps))) {
      for (let k = 0; k < [...piece].length; k++) kept.add(a + k);
    }
    cps.forEach((c, i) => { if (!kept.has(i)) members.push(c); });
  }
  return members;
}

const hex = (c) => c.toString(16).toUpperCase();
for (const [pattern, pcreMembers] of Object.entries(pcre2)) {
  const onig = new Set(onigMembers(pattern));
  const pcre = new Set(pcreMembers);
  const ranges = (set) => {
    const out = [];
    for (const c of [...set].sort((x, y) => x - y)) {
      if (out.length && out[out.length - 1][1] === c - 1) out[out.length - 1][1] = c;
      else out.push([c, c]);
    }
    return out.map(([a, b]) => (a === b ? `\\x{${hex(a)}}` : `\\x{${hex(a)}}-\\x{${hex(b)}}`)).join('');
  };
  console.log(`${pattern}\n  only Oniguruma: ${ranges([...onig].filter((c) => !pcre.has(c)))}` +
              `\n  only PCRE2:     ${ranges([...pcre].filter((c) => !onig.has(c)))}`);
}
