"""The ``vocoder.*`` metadata of exported ONNX files: one schema for the exporters and the readers.

An exported graph carries everything about its model as ``metadata_props`` (all strings), so that
onnxruntime alone can run it. :class:`VocoderMetadata` is the metadata of a vocoder graph
(:mod:`vocoder.infer.onnx_export` writes it, :class:`vocoder.infer.runtime.OnnxVocoder` and
``vocoder info`` read it), :class:`FrontendMetadata` that of a mel front-end graph
(:mod:`vocoder.infer.frontend_export`, :class:`vocoder.infer.runtime.OnnxFrontend`). Imports neither
torch nor onnx: the runtime of a slim install reads it.

Vocoder graph: ``vocoder.features`` (resolved FeatureConfig, JSON), ``vocoder.config`` (the whole resolved
RunConfig, JSON), ``vocoder.generator``, ``vocoder.version``, ``vocoder.sample_rate``, ``vocoder.hop``,
``vocoder.n_mels``, ``vocoder.needs_f0``, ``vocoder.needs_noise`` ("true"/"false"), ``vocoder.min_frames``,
``vocoder.inputs`` (JSON list of graph input names), ``vocoder.stream_context`` (JSON of
:class:`~vocoder.infer.base.StreamContext`), ``vocoder.input.<name>`` per graph input and
``vocoder.output.wav`` (dtype, shape with its length rule, units and distribution, for a deployment
without this package), ``vocoder.frontend`` (file name of the front-end graph written beside it, or ""),
``vocoder.f0_predictor`` ("true" when F0 is predicted from the mel inside the graph: an F0-driven generator
exported with its predictor, inputs mel, noise, phase, f0_scale; absent in older files = "false").
Files of older exports may lack ``vocoder.min_frames`` (read as 1), ``vocoder.stream_context`` and
``vocoder.version``; every other key of :data:`REQUIRED` must be there.

Front-end graph: ``vocoder.kind`` = ``frontend``, ``vocoder.version``, ``vocoder.features``,
``vocoder.sample_rate``, ``vocoder.hop``, ``vocoder.n_mels``, ``vocoder.min_samples`` (shortest input),
``vocoder.feeds`` (the vocoder file it was exported with), ``vocoder.input.wav``, ``vocoder.output.mel``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vocoder import __version__
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig, RunConfig, config_from_dict
from vocoder.infer.base import StreamContext

PREFIX = "vocoder."
OUTPUT_NAME = "wav"  # the vocoder graph's output
FRONTEND_KIND = "frontend"  # ``vocoder.kind`` of a front-end graph
FRONTEND_INPUT, FRONTEND_OUTPUT = "wav", "mel"
REQUIRED = (
    "vocoder.features", "vocoder.config", "vocoder.generator", "vocoder.sample_rate", "vocoder.hop",
    "vocoder.n_mels", "vocoder.needs_f0", "vocoder.needs_noise", "vocoder.inputs",
)
_FLAGS = {True: "true", False: "false"}


def _flag(props: Mapping[str, str], key: str) -> bool:
    if props[key] not in ("true", "false"):
        raise ValueError(f"{key} is {props[key]!r}, expected true or false")
    return props[key] == "true"


def is_frontend(props: Mapping[str, str]) -> bool:
    """True for the metadata of a front-end graph."""
    return props.get("vocoder.kind") == FRONTEND_KIND


def missing(props: Mapping[str, str]) -> list[str]:
    """The keys of :data:`REQUIRED` that ``props`` lacks (empty: a vocoder graph's metadata)."""
    return [k for k in REQUIRED if k not in props]


def decoded(props: Mapping[str, str]) -> dict[str, Any]:
    """The ``vocoder.*`` entries of ``props`` with JSON values decoded (numbers, flags, lists, dicts);
    other strings as they are."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith(PREFIX):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value
    return out


@dataclass
class VocoderMetadata:
    """What a vocoder graph's metadata says about its model (see the module docstring for the keys).

    ``docs``: one line per graph input and for the output :data:`OUTPUT_NAME`, what it holds.
    ``stream_context`` is None for a file exported without one.
    """

    generator: str
    sample_rate: int
    hop: int
    n_mels: int
    needs_f0: bool
    needs_noise: bool
    min_frames: int
    inputs: list[str]
    features: FeatureConfig
    config: RunConfig
    stream_context: StreamContext | None
    docs: dict[str, str] = field(default_factory=dict)
    frontend: str = ""
    version: str = __version__
    f0_predictor: bool = False  # F0 is predicted from the mel inside the graph (no f0 input)

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` to write."""
        context = {} if self.stream_context is None else {"vocoder.stream_context": self.stream_context.to_dict()}
        output = {OUTPUT_NAME: self.docs[OUTPUT_NAME]} if OUTPUT_NAME in self.docs else {}
        return {
            "vocoder.features": json.dumps(dataclasses.asdict(self.features)),
            "vocoder.config": json.dumps(self.config.to_dict()),
            "vocoder.generator": self.generator,
            "vocoder.version": self.version,
            "vocoder.sample_rate": str(self.sample_rate),
            "vocoder.hop": str(self.hop),
            "vocoder.n_mels": str(self.n_mels),
            "vocoder.needs_f0": _FLAGS[bool(self.needs_f0)],
            "vocoder.needs_noise": _FLAGS[bool(self.needs_noise)],
            "vocoder.min_frames": str(int(self.min_frames)),
            "vocoder.inputs": json.dumps(list(self.inputs)),
            **{key: json.dumps(value) for key, value in context.items()},
            **{f"vocoder.input.{name}": text for name, text in self.docs.items() if name != OUTPUT_NAME},
            **{f"vocoder.output.{name}": text for name, text in output.items()},
            "vocoder.frontend": self.frontend,
            "vocoder.f0_predictor": _FLAGS[bool(self.f0_predictor)],
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> VocoderMetadata:
        """Parse ``metadata_props``; a missing key is a KeyError, a bad value a ValueError, TypeError or
        :class:`~vocoder.errors.ConfigError` (the reader adds the file name)."""
        features = resolve_features(json.loads(props["vocoder.features"]))
        config = config_from_dict(json.loads(props["vocoder.config"]), source="vocoder.config")
        config.features = features
        context = props.get("vocoder.stream_context")
        docs = {k.removeprefix("vocoder.input."): v for k, v in props.items() if k.startswith("vocoder.input.")}
        if f"vocoder.output.{OUTPUT_NAME}" in props:
            docs[OUTPUT_NAME] = props[f"vocoder.output.{OUTPUT_NAME}"]
        return cls(
            generator=props["vocoder.generator"],
            sample_rate=int(props["vocoder.sample_rate"]),
            hop=int(props["vocoder.hop"]),
            n_mels=int(props["vocoder.n_mels"]),
            needs_f0=_flag(props, "vocoder.needs_f0"),
            needs_noise=_flag(props, "vocoder.needs_noise"),
            min_frames=int(props.get("vocoder.min_frames", "1")),
            inputs=list(json.loads(props["vocoder.inputs"])),
            features=features,
            config=config,
            stream_context=StreamContext.from_dict(json.loads(context)) if context else None,
            docs=docs,
            frontend=props.get("vocoder.frontend", ""),
            version=props.get("vocoder.version", ""),
            f0_predictor=_flag(props, "vocoder.f0_predictor") if "vocoder.f0_predictor" in props else False,
        )


@dataclass
class FrontendMetadata:
    """What a mel front-end graph's metadata says: its features, shortest input (``min_samples``, None when
    the file does not say), the vocoder file it ``feeds`` and the ``docs`` of its input and output."""

    features: FeatureConfig
    min_samples: int | None
    feeds: str = ""
    docs: dict[str, str] = field(default_factory=dict)
    version: str = __version__

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` to write."""
        f = self.features
        return {
            "vocoder.kind": FRONTEND_KIND,
            "vocoder.version": self.version,
            "vocoder.features": json.dumps(dataclasses.asdict(f)),
            "vocoder.sample_rate": str(f.sample_rate),
            "vocoder.hop": str(f.hop),
            "vocoder.n_mels": str(f.n_mels),
            **({} if self.min_samples is None else {"vocoder.min_samples": str(self.min_samples)}),
            "vocoder.feeds": self.feeds,
            f"vocoder.input.{FRONTEND_INPUT}": self.docs.get(FRONTEND_INPUT, ""),
            f"vocoder.output.{FRONTEND_OUTPUT}": self.docs.get(FRONTEND_OUTPUT, ""),
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> FrontendMetadata:
        """Parse ``metadata_props`` of a front-end graph (errors as :meth:`VocoderMetadata.from_props`)."""
        min_samples = props.get("vocoder.min_samples")
        docs = {
            name: props[key]
            for name, key in ((FRONTEND_INPUT, f"vocoder.input.{FRONTEND_INPUT}"),
                              (FRONTEND_OUTPUT, f"vocoder.output.{FRONTEND_OUTPUT}"))
            if key in props
        }
        return cls(
            features=resolve_features(json.loads(props["vocoder.features"])),
            min_samples=None if min_samples is None else int(min_samples),
            feeds=props.get("vocoder.feeds", ""),
            docs=docs,
            version=props.get("vocoder.version", ""),
        )
