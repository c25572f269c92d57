"""vocoder: train neural vocoders, synthesize speech from mel spectrograms, ship them with ONNX."""

__version__ = "0.1.0"

from vocoder.errors import VocoderError  # noqa: E402

__all__ = ["__version__", "VocoderError"]
