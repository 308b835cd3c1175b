#!/usr/bin/env node
// End-to-end tests of `radix serve` on the bundled default model (CPU) with the official
// `openai` npm client and raw HTTP: completions and chat, stream and non-stream, n, stop,
// logprobs, usage (prompt tokens = the reference tokenizer's count), seed
// reproducibility, stream text == non-stream text under greedy, API key on/off,
// malformed input, aborts under load, and many concurrent streams.
//
//   node tests/e2e/server_openai.test.mjs --radix build/radix [--model models/default]
//                                          [--concurrency 2000]
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import http from 'node:http';
import OpenAI from 'openai';
import { startServer as startServerAt } from './radix_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const RADIX = path.resolve(arg('--radix', path.join(root, 'build/radix')));
const MODEL = path.resolve(arg('--model', path.join(root, 'models/default')));
const CONCURRENCY = Number(arg('--concurrency', '2000'));

function startServer(extraArgs = []) {
  return startServerAt(RADIX, MODEL, extraArgs);
}

async function stopServer(s) {
  if (!s || s.proc.exitCode !== null) return;
  s.proc.off('exit', s.proc.onEarlyExit);
  const exited = new Promise((r) => s.proc.once('exit', (code, sig) => r({ code, sig })));
  s.proc.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 0, `radix serve did not exit cleanly on SIGTERM:\n${s.output()}`);
}

// Raw HTTP request (no client library): returns { status, headers, body }.
function raw(base, method, pathName, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(pathName, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8') }));
      });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function assertErrorBody(r, status) {
  assert.equal(r.status, status, r.body);
  const j = JSON.parse(r.body);
  for (const k of ['message', 'type', 'param', 'code']) assert.ok(k in j.error, `${k} in ${r.body}`);
}

let server;
let client;
let tokenizer;
before(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  tokenizer = Tokenizer.fromFile(path.join(MODEL, 'tokenizer.json'));
});
after(async () => { await stopServer(server); });

const PROMPT = 'The capital of France is';

test('completion usage counts prompt tokens as the reference tokenizer does', { timeout: 300000 }, async () => {
  const r = await client.completions.create({ model: 'x', prompt: PROMPT, max_tokens: 8, temperature: 0 }).catch((e) => e);
  assert.ok(r instanceof OpenAI.NotFoundError, 'unknown model is a 404');
  const models = await client.models.list();
  const model = models.data[0].id;
  assert.ok(models.data[0].max_model_len > 0);
  const c = await client.completions.create({ model, prompt: PROMPT, max_tokens: 8, temperature: 0 });
  const ref = await tokenizer.encode(PROMPT);
  assert.equal(c.usage.prompt_tokens, ref.getIds().length);
  assert.equal(c.usage.completion_tokens, c.choices[0].finish_reason === 'length' ? 8 : c.usage.completion_tokens);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  assert.equal(typeof c.choices[0].text, 'string');
});

test('streamed greedy text equals non-streamed text (completions and chat)', { timeout: 300000 }, async () => {
  const base = { model: 'm', prompt: PROMPT, max_tokens: 24, temperature: 0, ignore_eos: true };
  const whole = await client.completions.create({ ...base, model: undefined });
  const stream = await client.completions.create({ ...base, model: undefined, stream: true,
    stream_options: { include_usage: true } });
  let text = '';
  let finishes = 0;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.text;
      if (ch.finish_reason) finishes++;
    }
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finishes, 1);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);

  const msgs = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello!' }];
  const chat = await client.chat.completions.create({ model: undefined, messages: msgs, max_tokens: 16, temperature: 0 });
  assert.equal(chat.choices[0].message.role, 'assistant');
  const chatStream = await client.chat.completions.create({ model: undefined, messages: msgs,
    max_tokens: 16, temperature: 0, stream: true });
  let chatText = '';
  let first = true;
  let chatFinishes = 0;
  for await (const chunk of chatStream) {
    for (const ch of chunk.choices) {
      if (first) { assert.equal(ch.delta.role, 'assistant'); first = false; }
      chatText += ch.delta.content ?? '';
      if (ch.finish_reason) chatFinishes++;
    }
  }
  assert.equal(chatText, chat.choices[0].message.content);
  assert.equal(chatFinishes, 1);
});

test('n choices, stop strings and logprobs', { timeout: 300000 }, async () => {
  const many = await client.completions.create({ model: undefined, prompt: PROMPT, n: 3, max_tokens: 5, temperature: 1, seed: 7 });
  assert.deepEqual(many.choices.map((c) => c.index).sort(), [0, 1, 2]);

  const greedy = await client.completions.create({ model: undefined, prompt: PROMPT, max_tokens: 32, temperature: 0, ignore_eos: true });
  const full = greedy.choices[0].text;
  const stop = full.slice(10, 13);
  assert.ok(stop.length > 0, `greedy output too short: ${JSON.stringify(full)}`);
  const stopped = await client.completions.create({ model: undefined, prompt: PROMPT, max_tokens: 32, temperature: 0, ignore_eos: true, stop: [stop] });
  assert.equal(stopped.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(stopped.choices[0].finish_reason, 'stop');

  const lp = await client.completions.create({ model: undefined, prompt: PROMPT, max_tokens: 6, temperature: 0, ignore_eos: true, logprobs: 2 });
  const l = lp.choices[0].logprobs;
  assert.equal(l.tokens.length, lp.usage.completion_tokens);
  assert.equal(l.token_logprobs.length, l.tokens.length);
  assert.equal(l.text_offset.length, l.tokens.length);
  for (const v of l.token_logprobs) assert.ok(v <= 0);
  for (const top of l.top_logprobs) assert.ok(Object.keys(top).length >= 1);

  const chat = await client.chat.completions.create({ model: undefined, messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, chat.usage.completion_tokens);
  assert.equal(content[0].top_logprobs.length, 3);
});

test('a seed makes sampling reproducible', { timeout: 300000 }, async () => {
  const req = { model: undefined, prompt: PROMPT, max_tokens: 16, temperature: 1.0, seed: 1234, ignore_eos: true };
  const a = await client.completions.create(req);
  const b = await client.completions.create(req);
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test('malformed input over raw HTTP gets 4xx JSON errors', { timeout: 300000 }, async () => {
  const base = server.base;
  const j = { 'Content-Type': 'application/json' };
  assertErrorBody(await raw(base, 'POST', '/v1/completions', '{"prompt": ', j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', Buffer.from([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', JSON.stringify({ prompt: [999999] }), j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: 'lots' }), j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', JSON.stringify({ prompt: 'x', n: 1e9 }), j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: 1e12 }), j), 400);
  assertErrorBody(await raw(base, 'POST', '/v1/chat/completions', JSON.stringify({ messages: [] }), j), 400);
  assertErrorBody(await raw(base, 'GET', '/nope'), 404);
  assertErrorBody(await raw(base, 'POST', '/v1/completions', 'x'.repeat(65 << 20), j), 413);
  const r = await raw(base, 'GET', '/health', undefined, { 'X-Request-Id': 'e2e-123' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-request-id'], 'e2e-123');
});

test('clients that give up abort their requests; the server is idle afterwards', { timeout: 300000 }, async () => {
  const aborts = [];
  for (let i = 0; i < 200; i++) {
    const ctrl = new AbortController();
    aborts.push(client.completions.create({ model: undefined, prompt: `${PROMPT} ${i}`, max_tokens: 2000,
      ignore_eos: true, stream: true }, { signal: ctrl.signal })
      .then(async (s) => { for await (const _ of s) { /* read until aborted */ } })
      .catch(() => {}));
    setTimeout(() => ctrl.abort(), 100 + (i % 5) * 50);
  }
  await Promise.all(aborts);
  const t0 = Date.now();
  const fresh = await client.completions.create({ model: undefined, prompt: PROMPT, max_tokens: 4 });
  assert.ok(fresh.choices[0].text !== undefined);
  assert.ok(Date.now() - t0 < 30000, 'a fresh request completes quickly after the aborts');
  let metrics = '';
  for (let i = 0; i < 100; i++) {
    metrics = (await raw(server.base, 'GET', '/metrics')).body;
    if (/radix:num_running_reqs\{[^}]*\} 0\n/.test(metrics) && /radix:num_queue_reqs\{[^}]*\} 0\n/.test(metrics) &&
        /radix:kv_used_slots\{[^}]*\} 0\n/.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(metrics, /radix:num_running_reqs\{[^}]*\} 0\n/);
  assert.match(metrics, /radix:num_queue_reqs\{[^}]*\} 0\n/);
  // No KV held beyond the radix cache's unlocked (evictable) entries.
  assert.match(metrics, /radix:kv_used_slots\{[^}]*\} 0\n/);
});

// Streams a raw POST and resolves { status, headers, events } (the `data:` payloads).
// With leaveAfter > 0 the client drops the connection after that many body chunks.
function rawStream(base, pathName, body, headers = {}, leaveAfter = 0) {
  return new Promise((resolve, reject) => {
    const u = new URL(pathName, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      let chunks = 0;
      const done = () => resolve({ status: res.statusCode, headers: res.headers,
        events: text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6)) });
      res.on('data', (c) => {
        text += c;
        if (leaveAfter > 0 && ++chunks >= leaveAfter) { req.destroy(); done(); }
      });
      res.on('end', done);
      res.on('error', () => {});
    });
    req.on('error', (e) => { if (leaveAfter === 0) reject(e); });
    req.end(body);
  });
}

// Polls /metrics until nothing runs, nothing waits and no KV is held beyond the cache.
async function assertServerIdle() {
  let metrics = '';
  for (let i = 0; i < 100; i++) {
    metrics = (await raw(server.base, 'GET', '/metrics')).body;
    if (/radix:num_running_reqs\{[^}]*\} 0\n/.test(metrics) && /radix:num_queue_reqs\{[^}]*\} 0\n/.test(metrics) &&
        /radix:kv_used_slots\{[^}]*\} 0\n/.test(metrics)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`server not idle:\n${metrics.split('\n').filter((l) => /running|queue|kv_used/.test(l)).join('\n')}`);
}

test('concurrent requests sharing an X-Request-Id run independently', { timeout: 300000 }, async () => {
  // The engine keys requests and aborts by id: the one whose client leaves must not take
  // the other down.
  const body = (n) => JSON.stringify({ prompt: PROMPT, max_tokens: n, ignore_eos: true, temperature: 0,
    stream: true, stream_options: { include_usage: true } });
  const id = { 'X-Request-Id': 'e2e-dup-1' };
  const [left, stayed] = await Promise.all([
    rawStream(server.base, '/v1/completions', body(2000), id, 1),
    rawStream(server.base, '/v1/completions', body(400), id),
  ]);
  assert.equal(left.headers['x-request-id'], 'e2e-dup-1');
  assert.equal(stayed.status, 200);
  assert.equal(stayed.headers['x-request-id'], 'e2e-dup-1');
  assert.equal(stayed.events.at(-1), '[DONE]');
  const chunks = stayed.events.slice(0, -1).map((e) => JSON.parse(e));
  assert.equal(chunks.at(-1).usage.completion_tokens, 400);
  assert.deepEqual(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f), ['length']);
  assert.ok(chunks.every((c) => c.id === 'cmpl-e2e-dup-1'));
  // Non-streamed, side by side.
  const plain = JSON.stringify({ prompt: PROMPT, max_tokens: 8, temperature: 0, ignore_eos: true });
  const both = await Promise.all([0, 1].map(() => raw(server.base, 'POST', '/v1/completions', plain,
    { 'Content-Type': 'application/json', 'X-Request-Id': 'e2e-dup-2' })));
  for (const r of both) {
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-request-id'], 'e2e-dup-2');
    assert.equal(JSON.parse(r.body).choices[0].finish_reason, 'length');
  }
  assert.equal(JSON.parse(both[0].body).choices[0].text, JSON.parse(both[1].body).choices[0].text);
  await assertServerIdle();
});

test('a client that leaves a stream with n > 1 aborts every choice and frees its KV', { timeout: 300000 }, async () => {
  const body = JSON.stringify({ prompt: PROMPT, n: 4, max_tokens: 2000, ignore_eos: true, temperature: 1, stream: true });
  const r = await rawStream(server.base, '/v1/completions', body, {}, 2);
  assert.equal(r.status, 200);
  await assertServerIdle();
});

function rssMiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}
// A server built with AddressSanitizer keeps freed memory in its quarantine, and one
// built with ThreadSanitizer keeps its own allocator's and shadow memory, so their RSS
// says nothing about leaks (ASan's own leak check covers that build).
function underSanitizer(pid) {
  try {
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    return maps.includes('libasan') || maps.includes('libtsan');
  } catch {
    return false;
  }
}

test(`${CONCURRENCY} concurrent streaming requests all complete`, { timeout: 600000 }, async () => {
  const baselineRss = rssMiB(server.proc.pid);
  const jobs = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    jobs.push((async () => {
      const s = await client.completions.create({ model: undefined, prompt: `request ${i}`, max_tokens: 4,
        ignore_eos: true, stream: true }, { timeout: 600000 });
      let n = 0;
      let finish = null;
      for await (const chunk of s) {
        for (const ch of chunk.choices) { n += ch.text.length; if (ch.finish_reason) finish = ch.finish_reason; }
      }
      return finish;
    })());
  }
  const finishes = await Promise.all(jobs);
  assert.equal(finishes.filter((f) => f === 'length').length, CONCURRENCY);
  // Memory back to baseline: connection threads exit after 5 s idle and a kept worker
  // joins them and trims the allocator; poll for up to 20 s. The bound (+64 MiB) is
  // loose for allocator noise but catches a per-request or per-thread leak.
  let after = rssMiB(server.proc.pid);
  for (let i = 0; i < 20 && after >= baselineRss + 64; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    after = rssMiB(server.proc.pid);
  }
  console.log(`server RSS: ${baselineRss.toFixed(1)} MiB before ${CONCURRENCY} streams, ${after.toFixed(1)} MiB after`);
  if (underSanitizer(server.proc.pid)) {
    console.log('server built with a sanitizer: RSS bound not checked');
  } else {
    assert.ok(after < baselineRss + 64, `RSS ${after} MiB vs baseline ${baselineRss} MiB`);
  }
});

test('the API key guards the API but not health', { timeout: 300000 }, async () => {
  const keyed = await startServer(['--api-key', 'sekret']);
  try {
    const bad = new OpenAI({ baseURL: `${keyed.base}/v1`, apiKey: 'wrong', maxRetries: 0 });
    const err = await bad.completions.create({ model: undefined, prompt: 'x', max_tokens: 1 }).catch((e) => e);
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    const good = new OpenAI({ baseURL: `${keyed.base}/v1`, apiKey: 'sekret', maxRetries: 0 });
    const ok = await good.completions.create({ model: undefined, prompt: 'x', max_tokens: 1 });
    assert.equal(ok.choices.length, 1);
    assert.equal((await raw(keyed.base, 'GET', '/health')).status, 200);
  } finally {
    await stopServer(keyed);
  }
});

test('structured output: json_schema, json_object and regex hold the output', { timeout: 300000 }, async () => {
  const schema = {
    type: 'object',
    properties: {
      rank: { type: 'integer', enum: [1, 2, 3] },
      city: { type: 'string', maxLength: 12 },
      capital: { type: 'boolean' },
    },
    required: ['rank', 'city'],
  };
  const chat = await client.chat.completions.create({
    model: undefined, messages: [{ role: 'user', content: 'Describe Paris as JSON.' }], max_tokens: 120,
    temperature: 0.8, seed: 3, n: 3,
    response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
  });
  assert.equal(chat.choices.length, 3);
  for (const ch of chat.choices) {
    assert.equal(ch.finish_reason, 'stop', ch.message.content);
    const v = JSON.parse(ch.message.content);
    assert.equal(typeof v.city, 'string');
    assert.ok([...v.city].length <= 12, v.city);
    assert.ok([1, 2, 3].includes(v.rank), ch.message.content);
    // The schema's property order (rank, city, capital), not the alphabet's.
    assert.deepEqual(Object.keys(v).slice(0, 2), ['rank', 'city'], ch.message.content);
    for (const k of Object.keys(v)) assert.ok(['city', 'rank', 'capital'].includes(k), k);
    if ('capital' in v) assert.equal(typeof v.capital, 'boolean');
  }
  const obj = await client.chat.completions.create({
    model: undefined, messages: [{ role: 'user', content: 'Any JSON object.' }], max_tokens: 200,
    temperature: 0, response_format: { type: 'json_object' },
  });
  if (obj.choices[0].finish_reason === 'stop') {
    const v = JSON.parse(obj.choices[0].message.content);
    assert.equal(typeof v, 'object');
    assert.ok(v !== null && !Array.isArray(v));
  } else {
    assert.ok(obj.choices[0].message.content.startsWith('{'), obj.choices[0].message.content);
  }
  // SGLang's extra field through the client's extra body, streamed.
  const re = /^(yes|no), because [a-z ]{1,20}\.$/;
  const stream = await client.completions.create({
    model: undefined, prompt: PROMPT, max_tokens: 40, temperature: 1, seed: 5, stream: true,
    regex: '(yes|no), because [a-z ]{1,20}\\.',
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'stop', text);
  assert.match(text, re);
  // vLLM's guided_choice: the output is one of the strings.
  const choice = await client.completions.create({
    model: undefined, prompt: PROMPT, max_tokens: 16, temperature: 1, seed: 2, n: 4,
    guided_choice: ['Paris', 'London', 'New York'],
  });
  for (const c of choice.choices) {
    assert.ok(['Paris', 'London', 'New York'].includes(c.text), c.text);
    assert.equal(c.finish_reason, 'stop');
  }
  // A regex that does not compile is a 400 naming the field.
  const bad = await raw(server.base, 'POST', '/v1/completions',
    JSON.stringify({ prompt: 'x', regex: '(unclosed' }), { 'Content-Type': 'application/json' });
  assertErrorBody(bad, 400);
  assert.equal(JSON.parse(bad.body).error.param, 'regex');
});
