"""The ONNX metadata schema (vocoder.infer.onnx_metadata): what the exporters write reads back field by
field, older files get their defaults, and a bad value is an error naming the key."""

from __future__ import annotations

import json

import pytest

from vocoder import __version__
from vocoder.config import config_from_dict
from vocoder.infer import onnx_metadata
from vocoder.infer.base import StreamContext
from vocoder.infer.onnx_metadata import FrontendMetadata, VocoderMetadata

CFG = config_from_dict({"features": {"preset": "demo-16k"}, "generator": {"name": "wavehax", "params": {}}})


def wavehax_metadata() -> VocoderMetadata:
    return VocoderMetadata(
        generator="wavehax", sample_rate=16000, hop=160, n_mels=80, needs_f0=True, needs_noise=True, min_frames=2,
        inputs=["mel", "f0", "noise", "phase"], features=CFG.features, config=CFG,
        stream_context=StreamContext(6, 6), docs={"mel": "m", "f0": "f", "noise": "n", "phase": "p", "wav": "w"},
        frontend="m.frontend.onnx",
    )


def test_vocoder_metadata_round_trip():
    meta = wavehax_metadata()
    props = meta.to_props()
    assert list(props) == [
        "vocoder.features", "vocoder.config", "vocoder.generator", "vocoder.version", "vocoder.sample_rate",
        "vocoder.hop", "vocoder.n_mels", "vocoder.needs_f0", "vocoder.needs_noise", "vocoder.min_frames",
        "vocoder.inputs", "vocoder.stream_context", "vocoder.input.mel", "vocoder.input.f0", "vocoder.input.noise",
        "vocoder.input.phase", "vocoder.output.wav", "vocoder.frontend", "vocoder.f0_predictor",
    ]
    assert all(isinstance(v, str) for v in props.values())
    assert (props["vocoder.needs_f0"], props["vocoder.sample_rate"], props["vocoder.version"]) == ("true", "16000",
                                                                                                  __version__)
    assert json.loads(props["vocoder.stream_context"]) == {"left": 6, "right": 6, "exact": True, "reason": ""}
    assert onnx_metadata.missing(props) == [] and not onnx_metadata.is_frontend(props)
    assert VocoderMetadata.from_props(props) == meta
    assert onnx_metadata.decoded({**props, "other": "x"})["vocoder.inputs"] == ["mel", "f0", "noise", "phase"]
    assert onnx_metadata.decoded(props)["vocoder.min_frames"] == 2 and "other" not in onnx_metadata.decoded(props)


def test_older_files_get_defaults_and_bad_values_name_the_key():
    props = wavehax_metadata().to_props()
    for key in ("vocoder.min_frames", "vocoder.stream_context", "vocoder.version", "vocoder.frontend",
                "vocoder.f0_predictor"):
        del props[key]
    old = VocoderMetadata.from_props(props)
    assert (old.min_frames, old.stream_context, old.version, old.frontend, old.f0_predictor) == (1, None, "", "", False)
    assert onnx_metadata.missing({k: v for k, v in props.items() if k != "vocoder.hop"}) == ["vocoder.hop"]
    with pytest.raises(ValueError, match=r"vocoder.needs_noise is 'yes', expected true or false"):
        VocoderMetadata.from_props({**props, "vocoder.needs_noise": "yes"})


def test_frontend_metadata_round_trip():
    meta = FrontendMetadata(CFG.features, 480, "m.onnx", {"wav": "audio", "mel": "log-mel"})
    props = meta.to_props()
    assert onnx_metadata.is_frontend(props) and props["vocoder.kind"] == "frontend"
    assert (props["vocoder.sample_rate"], props["vocoder.hop"], props["vocoder.n_mels"]) == ("16000", "160", "80")
    assert (props["vocoder.min_samples"], props["vocoder.input.wav"], props["vocoder.output.mel"]) == (
        "480", "audio", "log-mel")
    assert FrontendMetadata.from_props(props) == meta
