#!/usr/bin/env node
// End-to-end test of `radix bench serving` against a real `radix serve` on the bundled
// default model (CPU): tiny runs for the radix (/generate), openai (/v1/completions) and
// openai-chat backends at request rate inf and at a finite Poisson rate, the other
// datasets, and requests the server rejects (counted as failures, exit 0). Each run's
// --output-file line is checked: every request completed, output tokens exactly
// num_prompts * output_len (ignore_eos), TTFT/ITL/TPOT finite and positive.
//
//   node tests/e2e/bench_serving.test.mjs --radix build/radix [--model models/default]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test, after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer as startServerAt } from './radix_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const RADIX = path.resolve(arg('--radix', path.join(root, 'build/radix')));
const MODEL = path.resolve(arg('--model', path.join(root, 'models/default')));

function startServer() {
  return startServerAt(RADIX, MODEL);
}

let server;
let dir;
before(async () => {
  server = await startServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'radix-bench-serving-'));
});
after(() => {
  if (server && server.proc.exitCode === null) server.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
// Runs `radix bench serving` and returns { status, stdout, stderr, record }.
function bench(args) {
  const file = path.join(dir, `run${runs++}.jsonl`);
  const r = spawnSync(RADIX, ['bench', 'serving', '--port', String(server.port), '--output-file', file, ...args],
    { encoding: 'utf8', timeout: 60000 });
  let record = null;
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    record = JSON.parse(lines[0]);
  } catch { /* no file: the caller checks status */ }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, record };
}

function assertPositiveFinite(rec, keys) {
  for (const k of keys) assert.ok(Number.isFinite(rec[k]) && rec[k] > 0, `${k} = ${rec[k]}`);
}

function assertCompleteRun(r, { prompts, inputLen, outputLen }) {
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /============ Serving Benchmark Result ============/);
  const rec = r.record;
  assert.ok(rec, r.stderr);
  assert.equal(rec.completed, prompts, r.stderr);
  assert.equal(rec.failed, 0);
  assert.equal(rec.total_output_tokens, prompts * outputLen);
  assert.equal(rec.output_tokens_source, 'server');
  if (inputLen !== undefined) assert.equal(rec.total_input_tokens, prompts * inputLen);
  assertPositiveFinite(rec, ['duration', 'request_throughput', 'output_throughput', 'total_throughput',
    'mean_ttft_ms', 'median_ttft_ms', 'p99_ttft_ms', 'mean_itl_ms', 'median_itl_ms', 'p99_itl_ms',
    'mean_tpot_ms', 'median_e2e_latency_ms', 'concurrency']);
  assert.ok(rec.p99_ttft_ms >= rec.median_ttft_ms);
  assert.ok(rec.max_itl_ms >= rec.p99_itl_ms);
  return rec;
}

const RANDOM = ['--dataset-name', 'random', '--num-prompts', '16', '--random-input-len', '32',
  '--random-output-len', '16', '--random-range-ratio', '1'];

for (const backend of ['radix', 'openai', 'openai-chat']) {
  test(`${backend}: 16 prompts at request rate inf`, { timeout: 60000 }, () => {
    const rec = assertCompleteRun(bench(['--backend', backend, ...RANDOM, '--request-rate', 'inf']),
      { prompts: 16, inputLen: 32, outputLen: 16 });
    assert.equal(rec.backend, backend);
    assert.equal(rec.request_rate, 'inf');
    assert.equal(rec.model, MODEL);  // the first id of /v1/models
    assert.equal(rec.tokenizer, MODEL);  // the server's model path
  });

  test(`${backend}: 16 prompts at 40 req/s, at most 4 in flight`, { timeout: 60000 }, () => {
    const rec = assertCompleteRun(bench(['--backend', backend, ...RANDOM, '--request-rate', '40',
      '--max-concurrency', '4']), { prompts: 16, inputLen: 32, outputLen: 16 });
    assert.equal(rec.request_rate, 40);
    assert.equal(rec.max_concurrency, 4);
    assert.ok(rec.concurrency <= 4.0 + 1e-9, `concurrency ${rec.concurrency}`);
    // 15 exponential gaps of mean 25 ms: the run cannot be much shorter than that.
    assert.ok(rec.duration > 0.05, `duration ${rec.duration}`);
  });
}

test('radix --tokenize-prompt sends exact input ids; text prompts are re-tokenized by the server', { timeout: 60000 }, () => {
  const args = ['--backend', 'radix', '--dataset-name', 'random', '--num-prompts', '8', '--random-input-len', '40',
    '--random-output-len', '8', '--random-range-ratio', '1'];
  const ids = assertCompleteRun(bench([...args, '--tokenize-prompt']), { prompts: 8, inputLen: 40, outputLen: 8 });
  assert.equal(ids.total_input_tokens_server, 8 * 40);
  const text = assertCompleteRun(bench(args), { prompts: 8, inputLen: 40, outputLen: 8 });
  assert.ok(text.total_input_tokens_server > 0);
});

test('generated-shared-prefix and synthetic sharegpt datasets', { timeout: 60000 }, () => {
  assertCompleteRun(bench(['--backend', 'openai', '--dataset-name', 'generated-shared-prefix',
    '--gsp-num-groups', '2', '--gsp-prompts-per-group', '4', '--gsp-system-prompt-len', '64',
    '--gsp-question-len', '8', '--gsp-output-len', '8']), { prompts: 8, outputLen: 8 });
  assertCompleteRun(bench(['--backend', 'radix', '--dataset-name', 'sharegpt', '--num-prompts', '8',
    '--sharegpt-output-len', '8', '--sharegpt-context-len', '1024']), { prompts: 8, outputLen: 8 });
  assertCompleteRun(bench(['--backend', 'openai-chat', '--dataset-name', 'sharegpt', '--num-prompts', '4',
    '--dataset-path', path.join(root, 'tests/data/bench/sharegpt_small.json'), '--sharegpt-output-len', '6']),
  { prompts: 4, outputLen: 6 });
});

test('requests the server rejects are counted as failures, not fatal', { timeout: 60000 }, () => {
  // Prompts longer than the model's context (2048): every request gets an HTTP 400.
  const r = bench(['--backend', 'openai', '--dataset-name', 'random', '--num-prompts', '4',
    '--random-input-len', '4000', '--random-output-len', '4', '--random-range-ratio', '1',
    '--warmup-requests', '0']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.record.completed, 0);
  assert.equal(r.record.failed, 4);
  assert.match(r.record.first_error, /HTTP 400/);
  // With a warmup the same run stops before it starts, with the server's message.
  const w = bench(['--backend', 'radix', '--dataset-name', 'random', '--num-prompts', '2',
    '--random-input-len', '4000', '--random-output-len', '4', '--random-range-ratio', '1']);
  assert.equal(w.status, 1);
  assert.match(w.stderr, /warmup failed/);
});
