"""The package's own error types.

Every error a user can cause (a bad file, a bad config value) is raised as a :class:`VocoderError`
subclass whose message is one line that names the file or key and the problem. The CLI prints that
line and exits non-zero, never a traceback.
"""


class VocoderError(Exception):
    """Base class of every user-facing error; ``str(err)`` is one line."""

    def __str__(self) -> str:
        # messages quote user input (a YAML key, a file name) that may hold line breaks or terminal control
        # characters: show those escaped, so the CLI's ``error:`` line stays one line
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ConfigError(VocoderError):
    """A config file or override is wrong (unknown key, wrong type, bad value)."""


class AudioError(VocoderError):
    """An audio file cannot be used (unreadable, empty, non-finite, silent)."""


class InputError(VocoderError):
    """A model input (mel, F0, noise) has the wrong shape, type, values or feature config."""


class ModelError(VocoderError):
    """A model or checkpoint cannot be built or loaded."""
