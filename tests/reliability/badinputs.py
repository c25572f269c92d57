"""Bad inputs for the CLI: files a user may hand to ``vocoder synthesize`` / ``train`` / ``info`` by mistake.

:func:`build_bad_inputs` writes them into a folder and returns ``{name: (path, expected)}``; ``expected``
is a substring of the one-line error the CLI must print, or None for inputs that the documented rules
accept (stereo audio is mixed down, audio at another rate is resampled: :mod:`vocoder.audio.io`).

The name's prefix says how a case is used:

* ``mel/...``: a mel file for ``vocoder synthesize MODEL FILE`` (a model without F0);
* ``audio/...``: an audio file for ``vocoder synthesize MODEL FILE --from-audio``;
* ``f0/...``: a mel file (with its ``NAME.f0.npy`` sidecar, if any) for a model that needs F0;
* ``model/...``: a model path for ``vocoder synthesize`` (corrupt ONNX file);
* ``config/...``: a recipe for ``vocoder train RECIPE --out DIR`` and ``vocoder info RECIPE``.

Files that pickle a :class:`Payload` create ``folder / MARKER`` if anything ever unpickles them.

Run as a script (``python tests/reliability/badinputs.py DIR``) to write the demo-16k set into ``DIR``.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig

MARKER = "PAYLOAD_RAN"
GOOD_FRAMES = 40  # frames of the plausible mels (and hops of the good audio)
F0_SHORT_BY = 5  # more than f0_inputs.F0_LENGTH_SLACK frames missing


class Payload:
    """Unpickling this object opens ``marker`` for writing, i.e. creates the file: proof that a loader
    ran code from the file it read."""

    def __init__(self, marker: str | Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_pickle(marker: str | Path, protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    """A plain pickle whose loading creates ``marker``."""
    return pickle.dumps({"mel": Payload(marker)}, protocol=protocol)


def write_payload_pt(path: Path, marker: str | Path) -> Path:
    """A ``torch.save`` zip file (what ``.pt`` files are) whose unpickling creates ``marker``."""
    import torch

    buffer = io.BytesIO()
    torch.save({"mel": Payload(marker), "step": 1}, buffer)
    path.write_bytes(buffer.getvalue())
    return path


def plausible_audio(features: FeatureConfig, frames: int = GOOD_FRAMES, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal ``(frames * hop,)`` float32: five harmonics of a 120-180 Hz glide plus
    a little noise, peak 0.5 (its log-mel passes :func:`vocoder.infer.value_ranges.check_mel_values`)."""
    sr, length = features.sample_rate, frames * features.hop
    t = np.arange(length) / sr
    phase = 2 * np.pi * np.cumsum(150.0 + 30.0 * np.sin(2 * np.pi * 3.0 * t)) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 6))
    wav = wav + 0.02 * np.random.default_rng(seed).standard_normal(length)
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def plausible_mel(features: FeatureConfig, frames: int = GOOD_FRAMES, seed: int = 0) -> np.ndarray:
    """Log-mel ``(n_mels, frames)`` float32 of :func:`plausible_audio`."""
    return log_mel_numpy(plausible_audio(features, frames, seed), features)


def _wav_bytes(wav: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wav, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _tiny_recipe(features: FeatureConfig, data_root: str) -> dict:
    """A valid recipe with a tiny Parallel WaveGAN (cheap to build) on ``features``."""
    return {
        "features": dataclasses.asdict(features),
        "generator": {"name": "pwg", "params": {
            "layers": 2, "stacks": 1, "residual_channels": 4, "gate_channels": 8, "skip_channels": 4,
            "upsample_scales": [features.hop],
        }},
        "losses": {"mel": {"weight": 45.0}},
        "train": {"max_steps": 2, "batch_size": 1, "segment_frames": 8},
        "data": {"root": data_root},
    }


def build_bad_inputs(folder: str | Path, features: FeatureConfig) -> dict[str, tuple[Path, str | None]]:
    """Write every bad input for a model on ``features`` into ``folder``; ``{name: (path, expected)}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    features = resolve_features(features)
    n_mels, hop, sr = features.n_mels, features.hop, features.sample_rate
    marker = folder / MARKER
    mel = plausible_mel(features)
    cases: dict[str, tuple[Path, str | None]] = {}

    def npy(name: str, array: np.ndarray, expected: str) -> None:
        path = folder / f"{name}.npy"
        np.save(path, array)
        cases[f"mel/{name}"] = (path, expected)

    def raw(kind: str, name: str, data: bytes, expected: str | None) -> None:
        path = folder / name
        path.write_bytes(data)
        cases[f"{kind}/{path.stem}"] = (path, expected)

    # ----------------------------------------------------------------------------------- mel files
    raw("mel", "mel_empty.npy", b"", "cannot read .npy file (empty file, 0 bytes)")
    raw("mel", "mel_text.npy", b"a text file, not a mel\n", "cannot read .npy file (no NumPy header: not a .npy file)")
    nan, inf = mel.copy(), mel.copy()
    nan[3, 5] = np.nan
    inf[1, 2], inf[2, 7] = np.inf, -np.inf
    npy("mel_nan", nan, "mel has 1 NaN/Inf values")
    npy("mel_inf", inf, "mel has 2 NaN/Inf values")
    npy("mel_wrong_n_mels", plausible_mel(resolve_features({**dataclasses.asdict(features), "n_mels": n_mels + 3})),
        f"has no axis of {n_mels} bins")
    npy("mel_1d", mel[0], "mel is a 1-D array")
    npy("mel_zero_frames", np.zeros((n_mels, 0), np.float32), "mel has 0 frames")
    npy("mel_int", np.round(mel).astype(np.int16), "dtype int16; a log-mel is floating point")
    raw("mel", "mel_corrupt.npz", np.random.default_rng(1).bytes(600), "cannot read .npz file (not a zip archive)")
    buffer = io.BytesIO()
    np.savez(buffer, mel=mel)
    raw("mel", "mel_truncated.npz", buffer.getvalue()[: len(buffer.getvalue()) // 2], "cannot read .npz file")
    cases["mel/mel_payload"] = (write_payload_pt(folder / "mel_payload.pt", marker), "refused to load .pt file")
    raw("mel", "mel_payload_raw.pt", payload_pickle(marker), "refused to load .pt file")

    # ---------------------------------------------------------------------------------- audio files
    wav = plausible_audio(features)
    raw("audio", "audio_empty.wav", b"", "empty file (0 bytes)")
    raw("audio", "audio_truncated_header.wav", _wav_bytes(wav, sr)[:20], "cannot read audio")
    raw("audio", "audio_text.wav", b"RIFF? no, just some text renamed to .wav\n" * 4, "cannot read audio")
    stereo = np.stack([wav, 0.5 * wav[::-1]], axis=1)
    raw("audio", "audio_stereo.wav", _wav_bytes(stereo, sr), None)  # mixed down: GOOD_FRAMES frames
    twice = plausible_audio(dataclasses.replace(features, sample_rate=2 * sr, hop=2 * hop))
    raw("audio", "audio_other_rate.wav", _wav_bytes(twice, 2 * sr), None)  # resampled: GOOD_FRAMES frames

    # --------------------------------------------------------------------------- F0 (model needs F0)
    frames = mel.shape[1]
    f0 = np.full(frames, 150.0, np.float32)
    f0[: frames // 4] = 0.0
    for name, sidecar, expected in (
        ("f0_missing", None, "the model needs F0"),
        ("f0_short", f0[: frames - F0_SHORT_BY], f"F0 has {frames - F0_SHORT_BY} frames, the mel has {frames}"),
        ("f0_negative", np.where(f0 > 0, f0, -1.0), "F0 has negative values"),
    ):
        np.save(folder / f"{name}.npy", mel)
        if sidecar is not None:
            np.save(folder / f"{name}.f0.npy", sidecar)
        cases[f"f0/{name}"] = (folder / f"{name}.npy", expected)

    # ---------------------------------------------------------------------------------------- models
    raw("model", "model_corrupt.onnx", b"\x08\x07" + np.random.default_rng(2).bytes(300), "not a valid ONNX model")

    # --------------------------------------------------------------------------------------- configs
    good = good_recipe(folder, features)
    unknown = {**good, "train": {**good["train"], "max_stepz": 3}}
    wrong_type = {**good, "train": {**good["train"], "batch_size": "eight"}}
    missing = {**good, "data": {"root": str(folder / "config_missing_data.wavs")}}
    for name, recipe, expected in (
        ("config_unknown_key", unknown, "unknown key 'train.max_stepz'"),
        ("config_wrong_type", wrong_type, "train.batch_size must be an integer, got 'eight'"),
        ("config_missing_data", missing, "config_missing_data.wavs: data folder not found"),
    ):
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        cases[f"config/{name}"] = (path, expected)
    return cases


def good_recipe(folder: str | Path, features: FeatureConfig) -> dict:
    """The valid recipe the config cases start from; its data folder ``folder/wavs`` is the caller's to fill."""
    return _tiny_recipe(resolve_features(features), str(Path(folder) / "wavs"))


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs")
    for key, (file, message) in build_bad_inputs(out, resolve_features({"preset": "demo-16k"})).items():
        print(f"{key:28s} {file}  ->  {message or 'accepted'}")
