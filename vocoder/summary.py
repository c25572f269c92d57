"""``vocoder info``: a short text description of a recipe, run, checkpoint, audio folder, exported ``.onnx``
model, mel file (``.npy`` / ``.npz`` / ``.pt``) or audio file. Files are only read, never unpickled."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.config import DataConfig, RunConfig, load_config
from vocoder.data.manifest import Utterance, scan_audio, split_utterances
from vocoder.errors import AudioError, ConfigError, ModelError, VocoderError
from vocoder.infer.onnx_metadata import VocoderMetadata
from vocoder.models.artifact import CONFIG_FILE, MODEL_FILE

ONNX_TYPES = {1: "float32", 6: "int32", 7: "int64", 10: "float16", 11: "float64", 16: "bfloat16"}


def describe_features(cfg: RunConfig) -> str:
    f = cfg.features
    return (
        f"features: {f.preset or 'custom'}: {f.sample_rate} Hz, n_fft {f.n_fft}, hop {f.hop}, win {f.win}, "
        f"{f.n_mels} mels {f.fmin:g}-{f.fmax if f.fmax is not None else 'sr/2'} Hz, {f.log}, "
        f"padding {f.padding}"
    )


def describe_data(root: str | Path, cfg: RunConfig | None = None) -> str:
    """A data folder as training would use it (``cfg.data``'s settings; without ``cfg``, the defaults of a
    recipe): the split, the sample rates found and, one line each with its reason, every file training
    would skip (:func:`~vocoder.data.manifest.check_audio_file`). Too few usable files is a line too."""
    d = cfg.data if cfg is not None else DataConfig()
    utts, skipped = scan_audio(root, d.min_seconds, d.extensions)
    try:
        manifest = split_utterances(root, utts, skipped, d.valid_count, d.test_count, d.split_seed)
        lines = [f"data: {root}: {manifest.summary()}"]
    except ConfigError:  # too few files for the split: training would stop here
        seconds = sum(u.seconds for u in utts)
        lines = [
            f"data: {root}: {len(utts)} usable file(s), {seconds:.1f} s: too few to train with "
            f"{d.valid_count} valid + {d.test_count} test files (data.valid_count, data.test_count)"
        ]
    if utts:
        lines.append("  sample rates: " + _rates_line(utts, cfg.features.sample_rate if cfg is not None else None))
    if skipped:
        lines.append(f"  skipped {len(skipped)} file(s), as training skips them (one warning each):")
        lines.extend(f"    {line}" for line in skipped)
    return "\n".join(lines)


def _rates_line(utts: list[Utterance], target: int | None) -> str:
    """``16000 Hz: 120 files, 48000 Hz: 3 files (resampled to 16000 Hz)``, most common rate first."""
    counts = Counter(u.sample_rate for u in utts)
    parts = []
    for rate, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        part = f"{rate} Hz: {n} file{'s' if n != 1 else ''}"
        if target is not None and rate != target:
            part += f" (resampled to {target} Hz)"
        parts.append(part)
    line = ", ".join(parts)
    if target is None and len(counts) > 1:
        line += " (training resamples every file to its recipe's rate)"
    return line


def describe(path: str | Path, overrides: list[str] | None = None) -> str:
    from vocoder.audio.io import AUDIO_EXTENSIONS
    from vocoder.infer.mel_files import MEL_EXTENSIONS

    path = Path(path)
    if path.is_dir() and not (path / CONFIG_FILE).is_file():
        return describe_data(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_file() and suffix == ".onnx":
        return describe_onnx(path)
    if path.is_file() and suffix in MEL_EXTENSIONS:
        return describe_mel(path)
    if path.is_file() and suffix in AUDIO_EXTENSIONS:
        return describe_audio(path)
    if path.is_file() and path.name == MODEL_FILE:
        path = path.parent  # a checkpoint's weights: describe the checkpoint
    cfg = load_config(path, overrides)
    lines = [describe_features(cfg)]
    if cfg.generator.name:
        lines.append(describe_generator(cfg))
    if path.is_dir():
        from vocoder.models.f0_predictor import describe_f0_predictor

        lines += describe_f0_predictor(path)
    if cfg.data.root:
        try:
            lines.append(describe_data(cfg.data.root, cfg))
        except ConfigError as err:  # the recipe is still worth describing before its data stage has run
            lines.append(f"data: {err} (see the recipe's README for its data stage)")
    return "\n".join(lines)


def describe_generator(cfg: RunConfig) -> str:
    from vocoder.models.factory import build_generator, generator_cost

    gen = build_generator(cfg)
    params, gmac = generator_cost(gen)
    return f"generator: {cfg.generator.name}: {params:,} parameters, {gmac:.2f} GMAC per second of audio"


# ------------------------------------------------------------------------------------------- files


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def describe_onnx(path: str | Path) -> str:
    """An exported model: its vocoder metadata (generator, features, sample rate, hop, streaming) and its
    graph inputs and outputs with shapes and types. Read with the ``onnx`` package (training extra); on a
    slim install, where only onnxruntime is there, the same lines but opset and parameter count."""
    path = Path(path)
    try:
        import onnx
    except ModuleNotFoundError as err:
        if err.name != "onnx":
            raise
        return _describe_onnx_with_runtime(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf DecodeError, truncated file...
        raise ModelError(f"{path}: not a valid ONNX model ({type(err).__name__}: {_first_line(err)})") from None
    meta = {p.key: p.value for p in model.metadata_props}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    head = f"onnx: {path}: opset {opset}, {path.stat().st_size / 1e6:.2f} MB, {params:,} parameters"
    return "\n".join([
        head, *_onnx_metadata_lines(path, meta),
        "inputs: " + ", ".join(_onnx_value(v) for v in model.graph.input),
        "outputs: " + ", ".join(_onnx_value(v) for v in model.graph.output),
    ])


def _describe_onnx_with_runtime(path: Path) -> str:
    """:func:`describe_onnx` from an onnxruntime session (no ``onnx`` package)."""
    from vocoder.infer.runtime import open_session

    session = open_session(path, threads=1)
    meta = dict(session.get_modelmeta().custom_metadata_map)
    head = (
        f"onnx: {path}: {path.stat().st_size / 1e6:.2f} MB (opset and parameter count need the onnx package: "
        "pip install 'vocoder[train]')"
    )
    return "\n".join([
        head, *_onnx_metadata_lines(path, meta),
        "inputs: " + ", ".join(_runtime_value(v) for v in session.get_inputs()),
        "outputs: " + ", ".join(_runtime_value(v) for v in session.get_outputs()),
    ])


def _runtime_value(value: Any) -> str:
    """An onnxruntime ``NodeArg`` as :func:`_onnx_value` writes a graph value."""
    dims = ", ".join("?" if d is None else str(d) for d in value.shape)
    kind = value.type[len("tensor("):-1] if value.type.startswith("tensor(") else value.type
    names = {"float": "float32", "double": "float64"}
    return f"{value.name} ({dims}) {names.get(kind, kind)}"


def _onnx_metadata_lines(path: Path, meta: dict[str, str]) -> list[str]:
    if "vocoder.generator" not in meta:
        return ["generator: unknown (no vocoder.* metadata: not written by `vocoder export`)"]
    try:
        m = VocoderMetadata.from_props(meta)
    except (KeyError, ValueError, TypeError, VocoderError) as err:
        reason = f"{err.args[0]} missing" if isinstance(err, KeyError) else " ".join(str(err).split())[:160]
        return [f"generator: {meta['vocoder.generator']}: bad vocoder metadata ({reason})"]
    flags = [name for needed, name in ((m.needs_f0, "F0"), (m.needs_noise, "noise")) if needed]
    lines = [
        f"generator: {m.generator} (vocoder {m.version or '?'}): {m.sample_rate} Hz, hop {m.hop}, {m.n_mels} mels, "
        f"needs {' and '.join(flags) or 'the mel only'}, at least {m.min_frames} frame(s)",
        describe_features(m.config),
    ]
    ctx = m.stream_context
    if ctx is not None:
        lines.append(
            f"streaming: context {ctx.left} frames left, {ctx.right} right, "
            + ("exact" if ctx.exact else f"approximate ({ctx.reason})".replace(" ()", ""))
        )
    return lines


def _onnx_value(value: Any) -> str:
    tensor = value.type.tensor_type
    dims = ", ".join(d.dim_param or str(d.dim_value) for d in tensor.shape.dim)
    return f"{value.name} ({dims}) {ONNX_TYPES.get(tensor.elem_type, f'type {tensor.elem_type}')}"


def _array_line(arr: np.ndarray) -> str:
    text = f"shape {tuple(arr.shape)}, {arr.dtype}"
    if arr.size == 0 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        return text + (", empty" if arr.size == 0 else "")
    values = arr.astype(np.float64) if not np.iscomplexobj(arr) else np.abs(arr)
    finite = values[np.isfinite(values)]
    bad = values.size - finite.size
    if finite.size:
        text += f", values {finite.min():.4g} to {finite.max():.4g} (mean {finite.mean():.4g})"
    return text + (f", {bad} NaN/Inf" if bad else "")


def describe_mel(path: str | Path) -> str:
    """A mel file: the mel array's shape, dtype and value range, the stored feature metadata, and its F0
    (the file's ``f0`` entry or a sibling ``NAME.f0.npy``). Read as synthesis reads it (no pickle)."""
    from vocoder.infer.checks import to_numpy
    from vocoder.infer.f0_inputs import f0_sibling
    from vocoder.infer.mel_files import METADATA_KEYS, read_mel_file

    path = Path(path)
    data = read_mel_file(path)
    mel = to_numpy(data["mel"], str(path), "mel")
    lines = [f"mel: {path}: {_array_line(mel)}"]
    meta = []
    for key in ("preset", *METADATA_KEYS):
        if key in data:
            value = to_numpy(data[key], str(path), key)
            item = value.reshape(()).item() if value.size == 1 else value.tolist()
            meta.append(f"{key} {item.decode('utf-8', 'replace') if isinstance(item, bytes) else item}")
    lines.append("metadata: " + (", ".join(meta) if meta else "none stored (preset, sample_rate, hop, ...)"))
    f0, where = None, ""
    if "f0" in data:
        f0, where = to_numpy(data["f0"], str(path), "f0"), "key 'f0'"
    elif f0_sibling(path).is_file():
        sibling = f0_sibling(path)
        try:
            f0, where = np.load(sibling, allow_pickle=False), str(sibling)
        except Exception as err:
            lines.append(f"f0: {sibling}: cannot read ({_first_line(err)})")
    if f0 is not None:
        line = f"f0 ({where}): {_array_line(f0)}"
        if np.issubdtype(f0.dtype, np.number) and f0.size:
            voiced = f0[np.isfinite(f0) & (f0 > 0)]
            line += f", {100 * voiced.size / f0.size:.0f}% voiced"
            if voiced.size:
                line += f" ({voiced.min():.1f}-{voiced.max():.1f} Hz)"
        lines.append(line)
    return "\n".join(lines)


def describe_audio(path: str | Path) -> str:
    """An audio file: sample rate, channels, duration and encoding (the header only)."""
    import soundfile as sf

    path = Path(path)
    try:
        info = sf.info(str(path))
    except Exception as err:
        raise AudioError(f"{path}: cannot read audio ({_first_line(err)})") from None
    return (
        f"audio: {path}: {info.samplerate} Hz, {info.channels} channel(s), {info.duration:.2f} s, "
        f"{info.format} {info.subtype}"
    )
