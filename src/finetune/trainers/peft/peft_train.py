#!/usr/bin/env python3
"""Hearth's peft trainer: LoRA on Hugging Face weights with torch + transformers + peft.

Run by the daemon as `<finetune.python> peft_train.py --spec FILE [--watch-parent]`, it speaks
the same protocol as the built-in llamacpp worker: one JSON object per line on stdout

    {"type": "progress", "step", "totalSteps", "epoch", "loss", "evalLoss", "tokensPerS", "etaS"}
    {"type": "done", "artifacts": {"adapterDir", "adapterFiles": {...}, "adapter"?}, "steps", "finalLoss", "tokensPerS", "peakRssBytes"}
    {"type": "error", "message": ...}        (then exit code 1)

and human lines on stderr. SIGTERM stops it after the current step with exit code 143 and no
artifacts. Spec (JSON): hfModelDir, outputDir, samples (texts already rendered with the model's
chat template), evalSamples, epochs, learningRate, contextSize, seed, gpu ("off" | "auto"),
loraRank, loraAlpha, and ggufConverter ({bundle, dir}) when the backend needs a GGUF adapter:
the adapter is then also converted with llama.cpp's convert_lora_to_gguf.py, unpacked with git
from node-llama-cpp's bundle of the llama.cpp source into dir the first time, and the done line
names it as artifacts.adapter. Unsloth is used when it is importable and a CUDA device is in use.
"""

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(line):
    sys.stderr.write(f"[peft] {line}\n")
    sys.stderr.flush()


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# What convert_lora_to_gguf.py needs from the llama.cpp source.
CONVERTER_PATHS = ["convert_lora_to_gguf.py", "conversion", "gguf-py"]


def lora_converter(source):
    """Path of convert_lora_to_gguf.py, unpacked from the git bundle on first use."""
    target = source["dir"]
    script = os.path.join(target, "convert_lora_to_gguf.py")
    if os.path.isfile(script):
        return script
    tmp = f"{target}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Its output goes to stderr: stdout carries the protocol only.
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", source["bundle"], tmp], check=True, stdout=sys.stderr)
    subprocess.run(["git", "-C", tmp, "checkout", "--quiet", "HEAD", "--", *CONVERTER_PATHS], check=True, stdout=sys.stderr)
    shutil.rmtree(os.path.join(tmp, ".git"))
    try:
        os.rename(tmp, target)
    except OSError:
        # Another job unpacked it first.
        shutil.rmtree(tmp, ignore_errors=True)
    return script


def convert_adapter(source, hf_dir, adapter_dir, outfile):
    """PEFT adapter -> GGUF LoRA adapter (F32), with the base's config read locally (--base)."""
    script = lora_converter(source)
    env = {key: value for key, value in os.environ.items() if key != "NO_LOCAL_GGUF"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    subprocess.run([sys.executable, script, "--base", hf_dir, "--outtype", "f32", "--outfile", outfile, adapter_dir], check=True, stdout=sys.stderr, env=env)
    if not os.path.isfile(outfile):
        raise RuntimeError(f"the converter wrote no {outfile}")


def load_model(spec, device, dtype):
    """The base with LoRA layers on every attention and MLP projection it has."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device == "cuda":
        try:
            from unsloth import FastLanguageModel  # optional: faster LoRA on NVIDIA GPUs

            model, tokenizer = FastLanguageModel.from_pretrained(spec["hfModelDir"], max_seq_length=spec["contextSize"], dtype=dtype, load_in_4bit=False)
            model = FastLanguageModel.get_peft_model(model, r=spec["loraRank"], lora_alpha=spec["loraAlpha"], lora_dropout=0, target_modules=list(LORA_TARGETS), random_state=spec["seed"])
            log("using Unsloth")
            return model, tokenizer
        except ImportError:
            pass
    from peft import LoraConfig, get_peft_model

    tokenizer = AutoTokenizer.from_pretrained(spec["hfModelDir"])
    model = AutoModelForCausalLM.from_pretrained(spec["hfModelDir"], torch_dtype=dtype).to(device)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    if not targets:
        raise ValueError(f"the model has none of the projections LoRA targets here ({', '.join(LORA_TARGETS)})")
    config = LoraConfig(r=spec["loraRank"], lora_alpha=spec["loraAlpha"], lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, config), tokenizer


def encode(tokenizer, texts, context_size):
    """Token ids per text, BOS first when the tokenizer has one, cut to the context size."""
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if tokenizer.bos_token_id is not None and (not ids or ids[0] != tokenizer.bos_token_id):
            ids = [tokenizer.bos_token_id] + ids
        if len(ids) >= 2:
            out.append(ids[:context_size])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--watch-parent", action="store_true")
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    spec.setdefault("evalSamples", [])
    spec.setdefault("loraRank", 16)
    spec.setdefault("loraAlpha", 32)
    spec.setdefault("contextSize", 256)
    spec.setdefault("seed", 42)

    stop = {"requested": False}

    def on_term(_signum, _frame):
        stop["requested"] = True
        log("SIGTERM: stopping after the current step")

    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()

    try:
        import torch
    except ImportError as err:
        emit({"type": "error", "message": f"the peft trainer needs torch, transformers and peft in {sys.executable}: {err}"})
        return 1

    torch.manual_seed(spec["seed"])
    device = "cuda" if spec.get("gpu") != "off" and torch.cuda.is_available() else "cpu"
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device == "cuda" else torch.float32
    log(f"device {device}, dtype {dtype}")
    try:
        model, tokenizer = load_model(spec, device, dtype)
    except Exception as err:  # noqa: BLE001 - any load failure is the job's error
        emit({"type": "error", "message": f"cannot load {spec['hfModelDir']}: {err}"})
        return 1

    train = encode(tokenizer, spec["samples"], spec["contextSize"])
    evals = encode(tokenizer, spec["evalSamples"], spec["contextSize"])
    if not train:
        emit({"type": "error", "message": "no training sample has two tokens or more"})
        return 1
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["learningRate"])
    total = len(train) * spec["epochs"]
    generator = torch.Generator().manual_seed(spec["seed"])
    step = 0
    tokens = 0
    started = time.time()
    # As the llamacpp worker: the done line's rate leaves the first step (warm-up) out.
    first_step_end = None
    first_step_tokens = 0
    final_loss = None

    def eval_loss():
        if not evals:
            return None
        model.eval()
        with torch.no_grad():
            losses = [model(input_ids=torch.tensor([ids], device=device), labels=torch.tensor([ids], device=device)).loss.item() for ids in evals]
        model.train()
        return sum(losses) / len(losses)

    model.train()
    for epoch in range(1, spec["epochs"] + 1):
        for i in torch.randperm(len(train), generator=generator).tolist():
            if stop["requested"]:
                log(f"stopped after {step} step(s); no artifacts written")
                return 143
            if args.watch_parent and os.getppid() != parent:
                log("the daemon that started this trainer is gone: stopping")
                return 1
            ids = torch.tensor([train[i]], device=device)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += ids.shape[1]
            elapsed = time.time() - started
            rate = tokens / elapsed if elapsed > 0 else None
            value = loss.item()
            if first_step_end is None:
                first_step_end, first_step_tokens = time.time(), tokens
            if math.isfinite(value):
                final_loss = value
            emit({
                "type": "progress",
                "step": step,
                "totalSteps": total,
                "epoch": epoch,
                "loss": value if math.isfinite(value) else None,
                "evalLoss": None,
                "tokensPerS": rate,
                "etaS": (elapsed / step) * (total - step) if step else None,
            })
        if evals:
            emit({"type": "progress", "step": step, "totalSteps": total, "epoch": epoch, "loss": None, "evalLoss": eval_loss(), "tokensPerS": None, "etaS": None})

    if stop["requested"]:
        return 143
    timed = time.time() - first_step_end if first_step_end is not None else 0
    done_rate = (tokens - first_step_tokens) / timed if step > 1 and timed > 0 else None
    adapter_dir = os.path.join(spec["outputDir"], "adapter")
    model.save_pretrained(adapter_dir)
    files = {name: os.path.join(adapter_dir, name) for name in ("adapter_model.safetensors", "adapter_config.json")}
    missing = [name for name, path in files.items() if not os.path.isfile(path)]
    if missing:
        emit({"type": "error", "message": f"peft did not write {', '.join(missing)}"})
        return 1
    artifacts = {"adapterDir": adapter_dir, "adapterFiles": files}
    if spec.get("ggufConverter"):
        gguf_path = os.path.join(spec["outputDir"], "adapter.gguf")
        log("converting the adapter to GGUF with llama.cpp's convert_lora_to_gguf.py")
        try:
            convert_adapter(spec["ggufConverter"], spec["hfModelDir"], adapter_dir, gguf_path)
        except (OSError, subprocess.CalledProcessError, RuntimeError) as err:
            emit({"type": "error", "message": f"converting the adapter to GGUF failed: {err}"})
            return 1
        artifacts["adapter"] = gguf_path
    # ru_maxrss is in kilobytes on Linux (the converter, a child, is not counted).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    emit({"type": "done", "artifacts": artifacts, "steps": step, "finalLoss": final_loss, "tokensPerS": done_rate, "peakRssBytes": peak})
    return 0


if __name__ == "__main__":
    sys.exit(main())
