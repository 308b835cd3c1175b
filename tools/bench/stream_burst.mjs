#!/usr/bin/env node
// N streaming completions opened at once against a running `radix serve` (the load case
// of tests/e2e/server_openai.test.mjs, timed): each asks for 4 tokens with ignore_eos.
// Prints progress every 5 s and the wall time until every stream ended with "length",
// plus the server's user/sys CPU seconds over the run when --pid is given.
//
//   node tools/bench/stream_burst.mjs --port 30000 --streams 2000 [--client raw|openai]
//                                     [--pid SERVER_PID]
// --client openai uses the official npm client (install it with scripts/test-setup.sh).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const port = Number(arg('--port', '30000'));
const streams = Number(arg('--streams', '2000'));
const clientKind = arg('--client', 'raw');
const pid = arg('--pid', '');

function cpuSeconds() {
  if (!pid) return null;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };  // utime, stime (ticks)
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function rawStream(i) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ prompt: `request ${i}`, max_tokens: 4, ignore_eos: true, stream: true });
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/completions', method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve(res.statusCode === 200 && text.includes('"finish_reason":"length"')));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let client = null;
if (clientKind === 'openai') {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const { default: OpenAI } = await import(path.resolve(here, '../../tests/e2e/node_modules/openai/index.mjs'));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none', maxRetries: 0 });
}
async function openaiStream(i) {
  const s = await client.completions.create({ model: undefined, prompt: `request ${i}`, max_tokens: 4,
    ignore_eos: true, stream: true }, { timeout: 3600000 });
  let finish = null;
  for await (const chunk of s) for (const ch of chunk.choices) if (ch.finish_reason) finish = ch.finish_reason;
  return finish === 'length';
}

const cpu0 = cpuSeconds();
const t0 = Date.now();
let done = 0;
const jobs = [];
for (let i = 0; i < streams; i++) {
  jobs.push((client ? openaiStream(i) : rawStream(i)).then((ok) => { done++; return ok; }, () => { done++; return false; }));
}
const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
const progress = setInterval(() => console.log(`${seconds()} s: ${done} of ${streams} ended`), 5000);
const ok = (await Promise.all(jobs)).filter(Boolean).length;
clearInterval(progress);
let line = `${streams} streams (${clientKind}): ${ok} ended with "length" in ${seconds()} s`;
const cpu1 = cpuSeconds();
if (cpu0 && cpu1) line += `; server CPU ${(cpu1.user - cpu0.user).toFixed(1)} s user, ${(cpu1.sys - cpu0.sys).toFixed(1)} s sys`;
console.log(line);
process.exitCode = ok === streams ? 0 : 1;
