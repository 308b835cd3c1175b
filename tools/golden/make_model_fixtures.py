#!/usr/bin/env python3
"""Builds tiny random-weight Hugging Face checkpoints of each architecture radix ships,
runs them with transformers (float32, eager attention) and records the reference:
logits at every prompt position and a greedy continuation. Also builds the bundled
default model (models/default): a small Llama with a byte-level BPE tokenizer trained
here on Python's standard-library sources.

Run on the GPU machine (it has torch + transformers + tokenizers):
    python3 tools/golden/make_model_fixtures.py --out DIR
Outputs DIR/models/<name>/{config.json, model.safetensors, golden.safetensors}
and DIR/default/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
golden.safetensors}.

golden.safetensors holds, per prompt i:
  prompt_<i>.input_ids  int64 [L]      the prompt
  prompt_<i>.logits     f32  [L, V]    logits at every position
  prompt_<i>.greedy     int64 [G]      greedy continuation (argmax, no cache tricks)
  prompt_<i>.margin     f32  [G]      top-1 minus top-2 logit at each greedy step
"""
import argparse
import glob
import json
import os
import random
import sys

import torch
from safetensors.torch import save_file

import transformers
from transformers import AutoModelForCausalLM

GREEDY_STEPS = 32


def tiny_configs():
    common = dict(vocab_size=384, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    return {
        # Llama 3.1 style: GQA, llama3 rope scaling, untied head.
        "llama3": dict(common, architectures=["LlamaForCausalLM"], model_type="llama",
                       rope_theta=500000.0, tie_word_embeddings=False,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 64}),
        # Llama 2 style: MHA, linear rope scaling, head_dim override, tied embeddings.
        "llama2_linear": dict(common, architectures=["LlamaForCausalLM"], model_type="llama",
                              num_key_value_heads=4, head_dim=32, rope_theta=10000.0,
                              tie_word_embeddings=True,
                              rope_scaling={"rope_type": "linear", "factor": 2.0}),
        "mistral": dict(common, architectures=["MistralForCausalLM"], model_type="mistral",
                        rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=False),
        # Qwen2: q/k/v bias, tied embeddings.
        "qwen2": dict(common, architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                      rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False),
    }


def write_config(cfg_dict, d, dtype_name):
    os.makedirs(d, exist_ok=True)
    cfg = dict(cfg_dict)
    cfg["torch_dtype"] = dtype_name
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def build_model(d, seed):
    """Builds a random model from d/config.json exactly as transformers reads real
    checkpoints' configs (legacy rope_scaling fields included)."""
    torch.manual_seed(seed)
    cfg = transformers.AutoConfig.from_pretrained(d)
    print("resolved config", d, cfg.to_json_string(use_diff=True), file=sys.stderr)
    try:
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    except TypeError:
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", torch_dtype=torch.float32)
    model = model.float()
    # Random init is std 0.02 by default; widen it so logits are well separated.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.8, 1.2)
            elif p.dim() == 1:
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.5 / (p.shape[-1] ** 0.5) * 4)
    return model.eval()


@torch.no_grad()
def record(model, prompts, path):
    out = {}
    for i, ids in enumerate(prompts):
        x = torch.tensor([ids], dtype=torch.long)
        logits = model(input_ids=x).logits[0].float()
        out[f"prompt_{i}.input_ids"] = x[0].clone()
        out[f"prompt_{i}.logits"] = logits.contiguous()
        seq = list(ids)
        greedy, margin = [], []
        for _ in range(GREEDY_STEPS):
            lg = model(input_ids=torch.tensor([seq])).logits[0, -1].float()
            top2 = torch.topk(lg, 2)
            nxt = int(top2.indices[0])
            greedy.append(nxt)
            margin.append(float(top2.values[0] - top2.values[1]))
            seq.append(nxt)
        out[f"prompt_{i}.greedy"] = torch.tensor(greedy, dtype=torch.long)
        out[f"prompt_{i}.margin"] = torch.tensor(margin, dtype=torch.float32)
    save_file(out, path)


def save_checkpoint(model, cfg_dict, d, dtype=torch.float32):
    state = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()}
    if cfg_dict.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)
    save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})


def random_prompts(vocab, seed):
    rng = random.Random(seed)
    lens = [1, 5, 17, 40]
    return [[rng.randrange(3, vocab) for _ in range(n)] for n in lens]


def train_default_tokenizer(vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers, Regex
    files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))
    texts = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                texts.append(fh.read())
        except (UnicodeDecodeError, OSError):
            pass
    tok = Tokenizer(models.BPE())
    # Llama-3's split pattern, then byte-level mapping without its own regex.
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok, specials, len(texts)


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def make_default(out):
    d = os.path.join(out, "default")
    os.makedirs(d, exist_ok=True)
    tok, specials, nfiles = train_default_tokenizer(4096)
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": False, "add_eos_token": False, "bos_token": None,
                   "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                   "model_max_length": 2048, "chat_template": CHATML,
                   "tokenizer_class": "PreTrainedTokenizerFast",
                   "clean_up_tokenization_spaces": False}, f, indent=2)
    eos = tok.token_to_id("<|im_end|>")
    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=tok.get_vocab_size(),
               hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
               num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-5,
               rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=None,
               eos_token_id=[eos, tok.token_to_id("<|endoftext|>")])
    write_config(cfg, d, "bfloat16")
    model = build_model(d, seed=1234)
    # The shipped checkpoint is bf16; the reference runs the same bf16-rounded weights in f32.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    save_checkpoint(model, cfg, d, dtype=torch.bfloat16)
    texts = ["The capital of France is", "def fibonacci(n):\n    return",
             "Hello, world! 你好", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"]
    prompts = [tok.encode(t).ids for t in texts]
    record(model, prompts, os.path.join(d, "golden.safetensors"))
    with open(os.path.join(d, "golden_prompts.json"), "w") as f:
        json.dump({"texts": texts, "ids": prompts, "tokenizer_trained_on_files": nfiles}, f, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    print("transformers", transformers.__version__, "torch", torch.__version__, file=sys.stderr)
    for seed, (name, cfg) in enumerate(tiny_configs().items()):
        d = os.path.join(args.out, "models", name)
        write_config(cfg, d, "float32")
        model = build_model(d, seed=100 + seed)
        save_checkpoint(model, cfg, d)
        record(model, random_prompts(cfg["vocab_size"], seed), os.path.join(d, "golden.safetensors"))
        print("wrote", d, file=sys.stderr)
    make_default(args.out)
    print("wrote default", file=sys.stderr)


if __name__ == "__main__":
    main()
