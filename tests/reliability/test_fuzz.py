"""Fuzzing the loaders a user feeds files to: the config loader and the mel / F0 / audio readers either
return a result or raise the package's own :class:`~vocoder.errors.VocoderError` (one line), never
another exception."""

from __future__ import annotations

import dataclasses
import io
import string
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vocoder.audio.io import read_audio
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig, RunConfig, config_from_dict, load_config
from vocoder.errors import VocoderError
from vocoder.infer.checks import check_chunk, check_f0
from vocoder.infer.f0_inputs import fit_f0, load_f0_file
from vocoder.infer.mel_files import METADATA_KEYS, load_mel

FEATURES = resolve_features({"sample_rate": 8000, "n_fft": 128, "hop": 32, "n_mels": 8, "fmax": None})
N_MELS = FEATURES.n_mels
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def one_line(err: VocoderError) -> str:
    text = str(err)
    assert text and "\n" not in text, repr(text)
    return text


def returns_or_refuses(fn, *args, **kwargs):
    """``fn(*args)``'s result, or None when it raised a one-line VocoderError; anything else fails the test."""
    try:
        result = fn(*args, **kwargs)
    except VocoderError as err:
        event(f"refused with {type(err).__name__}")  # see pytest --hypothesis-show-statistics
        one_line(err)
        return None
    event("accepted")
    return result


# ------------------------------------------------------------------------------------------ configs


def _field_names(cls: type) -> list[str]:
    names = []
    for f in dataclasses.fields(cls):
        names.append(f.name)
        inner = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(inner):
            names += _field_names(type(inner))
    return names


# known names make the fuzzer reach nested sections and the feature checks, random names the rest
KEYS = st.sampled_from(sorted(set(_field_names(RunConfig) + _field_names(FeatureConfig)) | {"name", "params"}))
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400) | st.floats()
    | st.text(max_size=12) | st.sampled_from(["ln", "log10", "same", "center", "slaney", "demo-16k", "pwg", "hinge"])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
SECTIONS = st.dictionaries(KEYS, VALUES, max_size=5)
CONFIG_DICTS = st.dictionaries(KEYS | st.text(max_size=6), VALUES | SECTIONS, max_size=6)
DOTTED = st.lists(KEYS | st.sampled_from(["0", "1", "x"]) | st.text(max_size=4), min_size=1, max_size=4).map(".".join)
OVERRIDES = st.lists(
    st.tuples(DOTTED, st.text(max_size=16) | VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True)))
    .map(lambda kv: f"{kv[0]}={kv[1].strip()}")
    | st.text(max_size=20),
    max_size=3,
)


@FUZZ
@given(data=CONFIG_DICTS | VALUES, overrides=OVERRIDES)
def test_config_from_dict_returns_config_or_config_error(data, overrides):
    cfg = returns_or_refuses(config_from_dict, data, "fuzz.yaml", overrides)
    if cfg is not None:
        assert isinstance(cfg, RunConfig) and isinstance(cfg.features, FeatureConfig)
        assert cfg.features.hop < cfg.features.n_fft  # resolved and validated


@FUZZ
@given(overrides=OVERRIDES)
def test_overrides_on_a_valid_recipe(overrides):
    base = {"generator": {"name": "pwg", "params": {}}, "discriminators": [{"name": "msstft"}], "train": {}}
    cfg = returns_or_refuses(config_from_dict, base, "fuzz.yaml", overrides)
    assert cfg is None or isinstance(cfg, RunConfig)


YAML_TEXT = st.text(alphabet=string.printable + "éλ\u3042\x00\x85\ufeff", max_size=200)


@FUZZ
@given(content=st.binary(max_size=300) | YAML_TEXT.map(str.encode) | CONFIG_DICTS.map(
    lambda d: yaml.safe_dump(d).encode()))
def test_load_config_on_arbitrary_bytes(tmp_path, content):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(content)
    cfg = returns_or_refuses(load_config, path)
    assert cfg is None or isinstance(cfg, RunConfig)


@pytest.mark.parametrize("text, expected", [
    ("a: &a [*a]\n", "unknown key 'a'"),
    ("train: &t {max_steps: *t}\n", "train.max_steps must be an integer"),
    ("data: !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML at line 1"),
    ("[" * 5000 + "]" * 5000, "not valid YAML (nested too deeply)"),
    ("features: {hop: 1" + "0" * 5000 + "}\n", "not valid YAML"),
    ("features: {fmin: 1" + "0" * 400 + "}\n", "features.fmin is too large (beyond float range)"),
    ("features: {sample_rate: 1" + "0" * 400 + "}\n", "features.sample_rate must be at most 2147483647"),
    ("train:\n  max_steps: 3\n  \"max_steps\\n\\x1b[31m\": 4\n", "unknown key 'train.max_steps\\n\\x1b[31m'"),
])
def test_load_config_hostile_yaml(tmp_path, text, expected):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    with pytest.raises(VocoderError) as info:
        load_config(path)
    message = one_line(info.value)
    assert message.startswith(f"{path}: ") and expected in message


def test_override_through_a_list_item_that_is_not_a_section():
    data = {"discriminators": [{"name": "msstft"}, 3]}
    for key in ("discriminators.1.name", "discriminators.1.params.x", "discriminators.\u00b2.name"):
        with pytest.raises(VocoderError, match="cannot set|bad list index"):
            config_from_dict(data, "r.yaml", [f"{key}=x"])
    cfg = config_from_dict({"discriminators": [{"name": "msstft"}]}, "r.yaml", ["discriminators.0.params.n=2"])
    assert cfg.discriminators[0].params == {"n": 2}


# ------------------------------------------------------------------------------------ mel / F0 files

DTYPES = (
    hnp.floating_dtypes() | hnp.integer_dtypes() | hnp.unsigned_integer_dtypes() | hnp.boolean_dtypes()
    | hnp.complex_number_dtypes() | hnp.unicode_string_dtypes(max_len=3)
    | hnp.datetime64_dtypes() | st.just(np.dtype([("a", "f4"), ("b", "i2")]))
)
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12),
    st.sampled_from([(N_MELS, 5), (5, N_MELS), (1, N_MELS, 7), (N_MELS, N_MELS), (N_MELS, 0), (2, N_MELS, 3)]),
)
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -11.5, 3e38, -3e38, 1e308, 1e-45, 65504.0])


@st.composite
def arrays(draw):
    dtype, shape = draw(DTYPES), draw(SHAPES)
    if dtype.kind in "fc":
        real = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype  # a complex number's component
        top = float(np.finfo(real).max)
        special = SPECIAL.filter(lambda v: not np.isfinite(v) or abs(v) <= top)
        elements = st.floats(width=min(64, real.itemsize * 8)) | special
        if dtype.kind == "c":
            elements = st.builds(complex, elements, elements)
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


@st.composite
def plausible(draw):
    """A mel near the model's range (so the fuzzer also exercises the value checks past the shape checks)."""
    frames = draw(st.integers(1, 12))
    base = draw(st.floats(-11.5, 2.0))
    noise = draw(hnp.arrays(np.float32, (N_MELS, frames), elements=st.floats(-3, 3, width=32)))
    mel = (base + noise).astype(draw(st.sampled_from([np.float32, np.float64])))
    if draw(st.booleans()):
        top = float(np.finfo(mel.dtype).max)
        value = draw(SPECIAL.filter(lambda v: not np.isfinite(v) or abs(v) <= top))
        mel[draw(st.integers(0, N_MELS - 1)), draw(st.integers(0, frames - 1))] = value
    return mel.T if draw(st.booleans()) else mel


METADATA = st.dictionaries(
    st.sampled_from(("preset", "f0", *METADATA_KEYS)),
    arrays() | st.sampled_from([np.array("demo-16k"), np.array(b"\xff\xfe"), np.array(8000), np.array(32.0),
                                np.array("ln"), np.array(1 + 2j), np.array(np.datetime64("2020-01-01"))]),
    max_size=3,
)


def _save_pt(path: Path, obj) -> None:
    def tensor(a):
        try:
            return torch.from_numpy(np.ascontiguousarray(a))
        except (TypeError, ValueError):  # no torch dtype (strings, datetimes) or big-endian: keep the array
            return a

    if isinstance(obj, dict):
        obj = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in obj.items()}
    elif isinstance(obj, np.ndarray):
        obj = tensor(obj)
    buffer = io.BytesIO()
    try:
        torch.save(obj, buffer)
    except Exception:
        assume(False)
    path.write_bytes(buffer.getvalue())


def _write(path: Path, mel, extra: dict) -> None:
    suffix = path.suffix
    if suffix == ".npy":
        np.save(path, mel)
    elif suffix == ".npz":
        np.savez(path, mel=mel, **extra) if extra or mel.dtype.kind != "U" else np.savez(path, mel)
    else:
        _save_pt(path, {"mel": mel, **extra} if extra else mel)


def check_loaded(result) -> None:
    if result is None:
        return
    mel, f0 = result
    assert mel.dtype == np.float32 and mel.ndim == 2 and mel.shape[0] == N_MELS and mel.shape[1] > 0
    assert np.isfinite(mel).all()
    if f0 is not None:
        assert f0.dtype == np.float32 and f0.shape == (mel.shape[1],) and (f0 >= 0).all()


@FUZZ
@given(mel=arrays() | plausible(), extra=METADATA, suffix=st.sampled_from([".npy", ".npz", ".pt"]))
def test_load_mel_on_arbitrary_arrays(tmp_path, mel, extra, suffix):
    path = tmp_path / f"mel{suffix}"
    _write(path, mel, extra)
    check_loaded(returns_or_refuses(load_mel, path, FEATURES))


@st.composite
def mangled(draw):
    """A valid file of the given kind with bytes flipped, cut or appended (or plain random bytes)."""
    suffix = draw(st.sampled_from([".npy", ".npz", ".pt"]))
    if draw(st.integers(0, 2)) == 0:
        return suffix, draw(st.binary(max_size=400))
    buffer = io.BytesIO()
    mel = np.full((N_MELS, 3), -4.5, np.float32)
    if suffix == ".npy":
        np.save(buffer, mel)
    elif suffix == ".npz":
        (np.savez_compressed if draw(st.booleans()) else np.savez)(buffer, mel=mel, f0=np.full(3, 100.0))
    else:
        torch.save({"mel": torch.from_numpy(mel)}, buffer)
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.just(len(data)) | st.integers(0, len(data)))
    return suffix, bytes(data[:cut]) + draw(st.just(b"") | st.binary(max_size=20))


@FUZZ
@given(case=mangled(), other=st.sampled_from([".npy", ".npz", ".pt"]), swap=st.booleans())
def test_load_mel_on_arbitrary_bytes(tmp_path, case, other, swap):
    suffix, data = case
    path = tmp_path / f"mel{other if swap else suffix}"  # a file of one kind named as another
    path.write_bytes(data)
    check_loaded(returns_or_refuses(load_mel, path, FEATURES))


@FUZZ
@given(f0=arrays(), frames=st.integers(1, 12))
def test_fit_f0_and_f0_files(tmp_path, f0, frames):
    got = returns_or_refuses(fit_f0, f0, frames, "f0")
    assert got is None or (got.shape == (frames,) and got.dtype == np.float32 and np.isfinite(got).all())
    path = tmp_path / "a.f0.npy"
    np.save(path, f0)
    from_file = returns_or_refuses(load_f0_file, path, frames)
    assert (got is None) == (from_file is None)
    if got is not None:
        np.testing.assert_array_equal(from_file, got)


@FUZZ
@given(mel=arrays() | plausible(), f0=arrays(), batched=st.booleans())
def test_api_input_checks(mel, f0, batched):
    # what a streaming push (vocoder.stream) checks before running a model
    checked = returns_or_refuses(check_chunk, mel, N_MELS)
    if checked is None:
        return
    mel3, was_batched = checked
    assert mel3.dtype == np.float32 and mel3.ndim == 3 and mel3.shape[1] == N_MELS and np.isfinite(mel3).all()
    got = returns_or_refuses(check_f0, f0, mel3.shape[0], mel3.shape[2], was_batched)
    assert got is None or (got.shape == (mel3.shape[0], mel3.shape[2]) and np.isfinite(got).all())


def test_values_beyond_float32_are_refused_not_turned_into_inf():
    mel = np.full((N_MELS, 3), -4.5)
    mel[0, 0] = 1e300  # finite in float64, inf in float32: what the fuzzer found (for F0)
    with pytest.raises(VocoderError, match=r"mel: contains NaN or Inf \(or values beyond float32\)"):
        check_chunk(mel, N_MELS)
    with pytest.raises(VocoderError, match=r"f0: contains NaN or Inf \(or values beyond float32\)"):
        check_f0(np.array([100.0, 3.5e38, 0.0]), 1, 3, False)
    with pytest.raises(VocoderError, match=r"^f0: F0 has NaN/Inf values \(or values beyond float32\)$"):
        fit_f0(np.array(3.40282357e38), 1, "f0")


@FUZZ
@given(data=st.binary(max_size=300), frames=st.integers(1, 12))
def test_load_f0_file_on_arbitrary_bytes(tmp_path, data, frames):
    path = tmp_path / "a.f0.npy"
    path.write_bytes(data)
    got = returns_or_refuses(load_f0_file, path, frames)
    assert got is None or got.shape == (frames,)


@st.composite
def audio_bytes(draw):
    """A small wav/flac with bytes flipped or cut, or random bytes."""
    import soundfile as sf

    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    buffer = io.BytesIO()
    fmt = draw(st.sampled_from(["WAV", "FLAC"]))
    channels = draw(st.integers(1, 3))
    sf.write(buffer, np.full((64, channels), 0.25, np.float32), draw(st.sampled_from([8000, 11025, 44100])),
             format=fmt)
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=audio_bytes(), suffix=st.sampled_from([".wav", ".flac"]))
def test_read_audio_on_arbitrary_bytes(tmp_path, data, suffix):
    path = tmp_path / f"a{suffix}"
    path.write_bytes(data)
    wav = returns_or_refuses(read_audio, path, 8000, check_silence=False)
    assert wav is None or (wav.dtype == np.float32 and wav.ndim == 1 and wav.size > 0 and np.isfinite(wav).all())


def test_npz_with_a_broken_member_is_an_input_error(tmp_path):
    # a deflated member whose data is corrupt: zlib, not zipfile, raises
    buffer = io.BytesIO()
    np.savez_compressed(buffer, mel=np.full((N_MELS, 50), -4.5, np.float32))
    data = bytearray(buffer.getvalue())
    name_len, extra_len = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
    start = 30 + name_len + extra_len  # the first member's compressed data
    data[start : start + 8] = b"\xff" * 8
    (tmp_path / "m.npz").write_bytes(bytes(data))
    with pytest.raises(VocoderError) as err:
        load_mel(tmp_path / "m.npz", FEATURES)
    assert one_line(err.value).startswith(f"{tmp_path / 'm.npz'}: cannot read .npz file (error: Error -3")


def test_audio_with_no_sample_left_after_resampling_is_an_audio_error(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "one.wav", np.array([0.5], np.float32), 44100)  # what the fuzzer found
    with pytest.raises(VocoderError) as err:
        read_audio(tmp_path / "one.wav", 8000)
    assert one_line(err.value) == f"{tmp_path / 'one.wav'}: audio too short (1 samples at 44100 Hz, none at 8000 Hz)"


@pytest.mark.parametrize("key, value, expected", [
    ("preset", np.array(b"\xff\xfe"), "made with unknown preset '\ufffd\ufffd'"),  # what the fuzzer found
    ("sample_rate", np.array(1 + 2j), "metadata 'sample_rate' must be a number or a string, got complex128"),
    ("hop", np.array(np.datetime64("2020-01-01")), "metadata 'hop' must be a number or a string, got datetime64[D]"),
    ("hop", np.zeros((), [("a", "f4"), ("b", "i2")]), "metadata 'hop' must be a number or a string"),
])
def test_odd_npz_metadata_values_are_input_errors(tmp_path, key, value, expected):
    np.savez(tmp_path / "m.npz", mel=np.full((N_MELS, 4), -4.5, np.float32), **{key: value})
    with pytest.raises(VocoderError) as err:
        load_mel(tmp_path / "m.npz", FEATURES)
    assert expected in one_line(err.value)


@pytest.mark.parametrize("key, value, expected", [
    ("hop", None, "made with hop None, the model (custom 8000 Hz hop 32) expects 32"),
    ("sample_rate", torch.tensor(8000 + 1j), "'sample_rate' is complex (torch.complex64); expected a real array"),
    ("fmax", None, None),  # None: half the sample rate, as the model has
])
def test_odd_pt_metadata_values(tmp_path, key, value, expected):
    torch.save({"mel": torch.full((N_MELS, 4), -4.5), key: value}, tmp_path / "m.pt")
    if expected is None:
        assert load_mel(tmp_path / "m.pt", FEATURES)[0].shape == (N_MELS, 4)
        return
    with pytest.raises(VocoderError) as err:
        load_mel(tmp_path / "m.pt", FEATURES)
    assert expected in one_line(err.value)
