"""Measure the frame-rate comb in a model's copy synthesis: tones at every multiple of sample_rate / hop.

    python tools/measure_frame_comb.py checkpoints/demo-istftnet --data data/heldout/it-male

Transposed-convolution upsampling can leave a periodic imprint of the mel frames in the waveform: a buzz
whose harmonics sit at k x the frame rate (100 Hz for the demo-16k mel's hop 160), steady across the whole
clip whatever the voice's pitch. It is heard as a drone and makes harvest lock onto 100 Hz, and a magnitude
distance hardly sees it. The comb strength of a clip is the mean, over the multiples k x frame rate between
``--fmin`` and ``--fmax``, of the long-term power (one Hann-windowed FFT of the whole clip, in dB) at the
multiple minus the power half-way to the next one. Speech has no reason to favour those frequencies, so
the recordings score about 0 dB; a model with the imprint scores many dB above. Printed per clip, then the
mean for the recordings and for the model.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.errors import VocoderError
from vocoder.eval.evaluate import utterance_paths


def comb_multiples(sample_rate: int, frame_rate: float, fmin: float, fmax: float) -> list[int]:
    """The k whose k x ``frame_rate`` lies in ``[fmin, fmax]`` (``fmax`` capped at 0.45 x ``sample_rate``) with
    room above for the half-way point; ValueError when there is none."""
    top = min(fmax, 0.45 * sample_rate)
    ks = [k for k in range(1, int(top / frame_rate) + 1) if fmin <= k * frame_rate <= top - frame_rate / 2]
    if not ks:
        raise ValueError(f"no multiple of the {frame_rate:g} Hz frame rate between {fmin:g} and {top:g} Hz")
    return ks


def frame_comb_db(wav: np.ndarray, sample_rate: int, frame_rate: float, fmin: float = 2000.0,
                  fmax: float = 7000.0) -> float:
    """Comb strength [dB] of ``wav`` ``(L,)`` at the multiples of ``frame_rate`` [Hz] in ``[fmin, fmax]``:
    mean of (power at k x frame_rate) - (power at (k + 1/2) x frame_rate), each the mean power of the
    FFT bins within frame_rate / 20 of that frequency."""
    ks = comb_multiples(sample_rate, frame_rate, fmin, fmax)
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    power = np.abs(np.fft.rfft(wav * np.hanning(len(wav)))) ** 2
    hz = np.fft.rfftfreq(len(wav), 1.0 / sample_rate)
    width = max(frame_rate / 20.0, 1.5 * sample_rate / len(wav))  # at least a few bins for short clips

    def level(f: float) -> float:
        return float(10.0 * np.log10(power[np.abs(hz - f) <= width].mean() + 1e-20))

    return float(np.mean([level(k * frame_rate) - level((k + 0.5) * frame_rate) for k in ks]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a model folder (checkpoints/NAME, a run folder)")
    ap.add_argument("--data", required=True, help="a folder of recordings (or a run's manifest.json)")
    ap.add_argument("--fmin", type=float, default=2000.0)
    ap.add_argument("--fmax", type=float, default=7000.0)
    args = ap.parse_args(argv)
    import vocoder
    from vocoder.audio.io import read_audio

    try:
        model = vocoder.load(args.model)
        paths, _ = utterance_paths(args.data)
    except VocoderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sr, frame_rate = model.sample_rate, model.sample_rate / model.hop
    try:
        comb_multiples(sr, frame_rate, args.fmin, args.fmax)
    except ValueError as err:
        print(f"error: --fmin {args.fmin:g} / --fmax {args.fmax:g}: {err}", file=sys.stderr)
        return 2
    real, fake = [], []
    for path, name in paths:
        try:
            wav = read_audio(path, sr)
            out = model.synthesize(log_mel_numpy(wav, model.features))
        except VocoderError as err:
            print(f"error: {name}: {err}", file=sys.stderr)
            continue
        real.append(frame_comb_db(wav, sr, frame_rate, args.fmin, args.fmax))
        fake.append(frame_comb_db(out, sr, frame_rate, args.fmin, args.fmax))
        print(f"{name}: recording {real[-1]:+.1f} dB, model {fake[-1]:+.1f} dB")
    if not real:
        print("error: no clip could be measured", file=sys.stderr)
        return 2
    print(f"frame-rate comb ({frame_rate:g} Hz, {args.fmin:g}-{args.fmax:g} Hz), mean of {len(real)} clips: "
          f"recordings {np.mean(real):+.1f} dB, {args.model} {np.mean(fake):+.1f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
