"""Objective metrics between a reference and a generated waveform, and a Griffin-Lim baseline.

Every waveform metric takes mono ``(L,)`` float signals at one sample rate; the longer one is trimmed to
the shorter. Copy synthesis is time-aligned, so there is no DTW. Torch-free: numpy, pyworld, pesq and
soxr; librosa only inside :func:`griffin_lim`.

Definitions (lower is better except PESQ):

* :func:`mrstft_distance`: Parallel WaveGAN's MR-STFT loss, spectral convergence + log magnitude, averaged
  over the resolutions (n_fft, hop, win) = (1024, 120, 600), (2048, 240, 1200), (512, 50, 240). They are
  fixed at every sample rate, so the numbers compare across models. Equal to
  ``sum(vocoder.losses.spectral.MultiResolutionSTFTLoss()(generated, reference))`` (to float64 rounding
  when the loss's windows are float64; its float32 windows move it by < 1e-7 relative).
* :func:`log_mel_l1`: mean ``|log-mel(ref) - log-mel(gen)|`` with the model's mel, always in natural-log
  units (a log10 mel is scaled by ln 10) and without the mean/std normalisation.
* :func:`mcd`: mel-cepstral distortion in dB, ``10 / ln 10 * sqrt(2 * sum_{d=1..D} (c_d - c'_d)^2)``
  averaged over the frames where the reference is active. ``c`` is the order-D (24) mel-cepstrum of the
  WORLD CheapTrick envelope (SPTK convention, like ``pysptk.sp2mc``), with all-pass warping ``alpha``
  (:func:`warping_alpha`: 0.42 at 16 kHz, 0.466 at 24 kHz). Each signal's envelope uses its own F0.
  The energy term c_0 is left out. Active frames: the reference envelope's energy is within
  :data:`ACTIVE_RANGE_DB` of its loudest frame; silent frames are excluded, because there the
  envelope of low-level noise decides the score.
* :func:`f0_rmse_cents`: RMS of ``1200 log2(f0_gen / f0_ref)`` over frames voiced in both contours.
* :func:`vuv_error`: fraction of frames whose voicing decision (F0 > 0) differs.
* :func:`pesq_wb`: wide-band PESQ (ITU-T P.862.2, 1.0 .. 4.64) at 16 kHz; other rates are resampled.

Contours for the F0 metrics come from :func:`vocoder.audio.f0.extract_f0` with the features' F0
settings (:func:`f0_of`), one value per mel frame.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from vocoder.audio.f0 import _pyworld, extract_f0
from vocoder.audio.io import resample
from vocoder.audio.mel_numpy import check_length, log_mel_numpy, mel_filterbank
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.dsp.framing import align_audio, frame_pads
from vocoder.dsp.windows import hann_numpy
from vocoder.errors import InputError

MRSTFT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
MAGNITUDE_FLOOR = 1e-7  # on |X|^2, as in the torch loss
MCD_ORDER = 24
ACTIVE_RANGE_DB = 50.0
PESQ_RATE = 16000
# Frequency-warping constants that make the all-pass warping closest to the mel scale (SPTK's table).
WARPING_ALPHAS = {8000: 0.31, 11025: 0.35, 16000: 0.42, 22050: 0.455, 24000: 0.466, 44100: 0.544, 48000: 0.554}

METRIC_NAMES = ("mrstft", "log_mel_l1", "mcd_db", "f0_rmse_cents", "vuv_error", "pesq_wb")
# which way each metric improves ("lower" or "higher"), for reports and table headers
METRIC_BETTER = {name: "higher" if name == "pesq_wb" else "lower" for name in METRIC_NAMES}


# ----------------------------------------------------------------------------------------------- helpers


def _mono(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise InputError(f"{what}: expected a mono (L,) waveform, got shape {tuple(a.shape)}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{what}: expected a float waveform, got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise InputError(f"{what}: waveform contains NaN or Inf")
    return a.astype(np.float64)


def trim_pair(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 ``(L,)``, cut to the shorter length."""
    ref, gen = _mono(reference, "reference"), _mono(generated, "generated")
    n = min(len(ref), len(gen))
    return ref[:n], gen[:n]


# ---------------------------------------------------------------------------------------------- MR-STFT


def _stft_magnitude(x: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """``torch.stft(center=True, pad_mode="reflect")`` magnitude ``(n_fft // 2 + 1, 1 + L // hop)``."""
    padded = np.pad(x, frame_pads(n_fft, hop, "center"), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spec = np.fft.rfft(frames * hann_numpy(win, n_fft), axis=-1)
    return np.sqrt(np.maximum(spec.real**2 + spec.imag**2, MAGNITUDE_FLOOR)).T


def mrstft_distance(
    reference: np.ndarray,
    generated: np.ndarray,
    resolutions: Sequence[tuple[int, int, int]] = MRSTFT_RESOLUTIONS,
) -> float:
    """Spectral convergence + log-magnitude L1, each averaged over ``resolutions`` (n_fft, hop, win)."""
    ref, gen = trim_pair(reference, generated)
    need = max(r[0] for r in resolutions) // 2 + 1
    if len(ref) < need:
        raise InputError(f"mrstft_distance: signals of {len(ref)} samples are too short (need >= {need})")
    sc = mag = 0.0
    for n_fft, hop, win in resolutions:
        ref_mag, gen_mag = _stft_magnitude(ref, n_fft, hop, win), _stft_magnitude(gen, n_fft, hop, win)
        sc += float(np.linalg.norm(ref_mag - gen_mag) / np.linalg.norm(ref_mag))
        mag += float(np.mean(np.abs(np.log(ref_mag) - np.log(gen_mag))))
    return (sc + mag) / len(resolutions)


# ----------------------------------------------------------------------------------------------- log-mel


def _plain_features(features: FeatureConfig) -> FeatureConfig:
    """The model's mel without mean/std normalisation, so the L1 is in log units."""
    cfg = resolve_features(features)
    if cfg.mean is None:
        return cfg
    return resolve_features(dataclasses.replace(cfg, mean=None, std=None))


def log_mel_l1(reference: np.ndarray, generated: np.ndarray, features: FeatureConfig) -> float:
    """Mean absolute difference of natural-log mels ``(n_mels, T)`` computed with ``features``."""
    ref, gen = trim_pair(reference, generated)
    cfg = _plain_features(features)
    diff = np.abs(log_mel_numpy(ref, cfg).astype(np.float64) - log_mel_numpy(gen, cfg))
    return float(np.mean(diff) * (math.log(10.0) if cfg.log == "log10" else 1.0))


# ------------------------------------------------------------------------------------------------- F0


def f0_of(wav: np.ndarray, features: FeatureConfig, factor: float = 1.0) -> np.ndarray:
    """F0 ``(L // hop,)`` of ``wav`` with the features' method and range; ``factor`` scales the search
    range (for output whose F0 was scaled by that factor), kept below Nyquist."""
    cfg = resolve_features(features)
    fmax = min(cfg.f0_max * factor, cfg.sample_rate / 2)
    fmin = min(cfg.f0_min * factor, fmax / 2)
    return extract_f0(np.asarray(wav), cfg.sample_rate, cfg.hop, fmin, fmax, cfg.f0_method)


def _contours(reference_f0: np.ndarray, generated_f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference_f0, dtype=np.float64).reshape(-1)
    gen = np.asarray(generated_f0, dtype=np.float64).reshape(-1)
    n = min(len(ref), len(gen))
    if n == 0:
        raise InputError("F0 metrics: empty F0 contour")
    return ref[:n], gen[:n]


def f0_rmse_cents(reference_f0: np.ndarray, generated_f0: np.ndarray) -> float:
    """RMS pitch error in cents over frames voiced in both; NaN when there is no such frame."""
    ref, gen = _contours(reference_f0, generated_f0)
    both = (ref > 0) & (gen > 0)
    if not both.any():
        return math.nan
    cents = 1200.0 * np.log2(gen[both] / ref[both])
    return float(np.sqrt(np.mean(cents**2)))


def vuv_error(reference_f0: np.ndarray, generated_f0: np.ndarray) -> float:
    """Fraction of frames (0..1) voiced in one contour and unvoiced in the other."""
    ref, gen = _contours(reference_f0, generated_f0)
    return float(np.mean((ref > 0) != (gen > 0)))


# ------------------------------------------------------------------------------------------------ MCD


def warping_alpha(sample_rate: int) -> float:
    """All-pass constant whose warped frequency axis best follows the mel scale at ``sample_rate``.

    Standard rates use SPTK's table (:data:`WARPING_ALPHAS`); other rates take the alpha in [0, 0.8]
    whose warping is closest (least squares) to the mel scale ``ln(1 + f / 1000)``, a fit that gives the
    table's values within 0.01 (0.41 at 16 kHz, 0.466 at 24 kHz).
    """
    if sample_rate in WARPING_ALPHAS:
        return WARPING_ALPHAS[sample_rate]
    omega = np.linspace(0.0, np.pi, 512)
    hz = omega / np.pi * sample_rate / 2
    mel = np.log1p(hz / 1000.0)
    mel = mel / mel[-1] * np.pi
    alphas = np.arange(0.0, 0.8, 0.001)
    errors = [np.mean((_warp(omega, a) - mel) ** 2) for a in alphas]
    return float(round(alphas[int(np.argmin(errors))], 3))


def _warp(omega: np.ndarray, alpha: float) -> np.ndarray:
    """Frequency ``omega`` (rad) seen through the all-pass ``(z^-1 - alpha) / (1 - alpha z^-1)``."""
    return omega + 2.0 * np.arctan(alpha * np.sin(omega) / (1.0 - alpha * np.cos(omega)))


@lru_cache(maxsize=16)
def _freqt_matrix(n_in: int, order: int, alpha: float) -> np.ndarray:
    """``(order + 1, n_in)`` matrix of SPTK's ``freqt`` recursion: cepstrum -> warped cepstrum.

    The recursion is linear in its input, so it is run once on the identity (all basis vectors at once)
    and then applied to every frame by a matrix product.
    """
    beta = 1.0 - alpha * alpha
    basis = np.eye(n_in)
    g = np.zeros((order + 1, n_in))
    for i in range(n_in - 1, -1, -1):
        prev = g.copy()
        g[0] = basis[i] + alpha * prev[0]
        if order >= 1:
            g[1] = beta * prev[0] + alpha * prev[1]
        for j in range(2, order + 1):
            g[j] = prev[j - 1] + alpha * (prev[j] - g[j - 1])
    return g


def mel_cepstrum(envelope: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """Power envelope ``(T, fft // 2 + 1)`` -> mel-cepstrum ``(T, order + 1)`` of the log *amplitude*.

    SPTK convention: ``log |H(e^jw)| = sum_m c_m cos(m * warp(w))`` with ``c_0`` the mean log amplitude.
    """
    env = np.asarray(envelope, dtype=np.float64)
    n_bins = env.shape[-1]
    cep = np.fft.irfft(0.5 * np.log(np.maximum(env, 1e-300)), axis=-1)[..., :n_bins]
    # one-sided form: the symmetric cepstrum folded onto m >= 0 (the Nyquist term appears once)
    cep[..., 1 : n_bins - 1] *= 2.0
    return cep @ _freqt_matrix(n_bins, order, float(alpha)).T


def envelope_of(wav: np.ndarray, f0: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """WORLD CheapTrick power envelope ``(T, fft // 2 + 1)`` at the frame centres ``(t + 0.5) * hop / sr``."""
    pw = _pyworld()
    f0 = np.ascontiguousarray(np.asarray(f0, dtype=np.float64))
    times = (np.arange(len(f0)) + 0.5) * hop / sample_rate
    return pw.cheaptrick(np.ascontiguousarray(wav, dtype=np.float64), f0, times, sample_rate)


def mcd(
    reference: np.ndarray,
    generated: np.ndarray,
    features: FeatureConfig,
    reference_f0: np.ndarray | None = None,
    generated_f0: np.ndarray | None = None,
    order: int = MCD_ORDER,
    alpha: float | None = None,
) -> float:
    """Mel-cepstral distortion in dB over the reference's active frames (see the module docstring).

    F0 contours (one per mel frame, for CheapTrick's window) are extracted with ``features`` when not given.
    """
    cfg = resolve_features(features)
    ref, gen = trim_pair(reference, generated)
    ref, gen = align_audio(ref, cfg.hop), align_audio(gen, cfg.hop)
    frames = len(ref) // cfg.hop
    if frames == 0:
        raise InputError(f"mcd: signals of {len(ref)} samples are shorter than one hop ({cfg.hop})")
    ref_f0 = f0_of(ref, cfg) if reference_f0 is None else np.asarray(reference_f0)[:frames]
    gen_f0 = f0_of(gen, cfg) if generated_f0 is None else np.asarray(generated_f0)[:frames]
    if len(ref_f0) != frames or len(gen_f0) != frames:
        raise InputError(f"mcd: F0 contours must have {frames} frames, got {len(ref_f0)} and {len(gen_f0)}")
    alpha = warping_alpha(cfg.sample_rate) if alpha is None else alpha
    ref_env = envelope_of(ref, ref_f0, cfg.sample_rate, cfg.hop)
    gen_env = envelope_of(gen, gen_f0, cfg.sample_rate, cfg.hop)
    energy_db = 10.0 * np.log10(ref_env.sum(axis=-1))
    active = energy_db >= energy_db.max() - ACTIVE_RANGE_DB
    diff = mel_cepstrum(ref_env[active], order, alpha)[:, 1:] - mel_cepstrum(gen_env[active], order, alpha)[:, 1:]
    per_frame = 10.0 / math.log(10.0) * np.sqrt(2.0 * np.sum(diff**2, axis=-1))
    return float(np.mean(per_frame))


# ----------------------------------------------------------------------------------------------- PESQ


def pesq_wb(reference: np.ndarray, generated: np.ndarray, sample_rate: int) -> tuple[float | None, str | None]:
    """``(score, None)`` with wide-band PESQ, or ``(None, reason)`` when PESQ refuses the pair
    (no utterance detected, shorter than 0.25 s, silent output)."""
    from pesq import PesqError, pesq

    ref, gen = trim_pair(reference, generated)
    ref = resample(ref.astype(np.float32), sample_rate, PESQ_RATE)
    gen = resample(gen.astype(np.float32), sample_rate, PESQ_RATE)
    try:
        return float(pesq(PESQ_RATE, ref, gen, "wb")), None
    except PesqError as err:
        message = err.args[0] if err.args else ""
        message = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return None, f"{type(err).__name__}: {message}" if message else type(err).__name__
    except ValueError:
        # pesq's C level turns an all-zero degraded signal into NaN and fails converting it
        return None, "degraded signal is silent"


# --------------------------------------------------------------------------------------------- all at once


def compute_metrics(
    reference: np.ndarray,
    generated: np.ndarray,
    features: FeatureConfig,
    reference_f0: np.ndarray | None = None,
) -> dict[str, float | str | None]:
    """Every metric of :data:`METRIC_NAMES` for one pair (F0 extracted once per signal).

    ``vuv_error`` is a fraction; ``f0_rmse_cents`` is None without a frame voiced in both; ``pesq_wb`` is
    None when PESQ fails, with the reason in ``pesq_wb_error``.
    """
    cfg = resolve_features(features)
    ref, gen = trim_pair(reference, generated)
    ref, gen = align_audio(ref, cfg.hop), align_audio(gen, cfg.hop)
    check_length(len(ref), cfg)
    frames = len(ref) // cfg.hop
    ref_f0 = f0_of(ref, cfg) if reference_f0 is None else np.asarray(reference_f0)[:frames]
    gen_f0 = f0_of(gen, cfg)
    rmse = f0_rmse_cents(ref_f0, gen_f0)
    score, reason = pesq_wb(ref, gen, cfg.sample_rate)
    return {
        "mrstft": mrstft_distance(ref, gen),
        "log_mel_l1": log_mel_l1(ref, gen, cfg),
        "mcd_db": mcd(ref, gen, cfg, ref_f0, gen_f0),
        "f0_rmse_cents": None if math.isnan(rmse) else rmse,
        "vuv_error": vuv_error(ref_f0, gen_f0),
        "pesq_wb": score,
        "pesq_wb_error": reason,
    }


# ---------------------------------------------------------------------------------------- Griffin-Lim


def mel_to_magnitude(mel: np.ndarray, features: FeatureConfig) -> np.ndarray:
    """Log-mel ``(n_mels, T)`` -> non-negative linear magnitude ``(n_fft // 2 + 1, T)``.

    Undoes the mean/std normalisation and the log, then solves ``filterbank @ |X|^power = mel`` by
    non-negative least squares exactly as ``librosa.feature.inverse.mel_to_stft`` (``librosa.util.nnls``:
    L-BFGS-B from the clipped least-norm solution). The system is under-determined (n_mels equations per
    frame); an exact active-set NNLS hits the mel to 1e-12 but with at most n_mels non-zero bins, and that
    spiky magnitude made Griffin-Lim far worse on demo speech (MR-STFT 1.69 vs 0.74, PESQ-WB 2.18 vs
    3.14), so librosa's smooth approximate solution is kept.
    """
    import librosa

    cfg = resolve_features(features)
    m = np.asarray(mel, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != cfg.n_mels or m.shape[1] == 0:
        raise InputError(f"griffin_lim: mel must be ({cfg.n_mels}, frames), got shape {tuple(m.shape)}")
    if not np.isfinite(m).all():
        raise InputError("griffin_lim: mel contains NaN or Inf")
    if cfg.mean is not None:
        m = m * np.asarray(cfg.std)[:, None] + np.asarray(cfg.mean)[:, None]
    linear_mel = np.exp(m) if cfg.log == "ln" else 10.0**m
    powered = librosa.util.nnls(mel_filterbank(cfg), linear_mel)
    return np.power(np.maximum(powered, 0.0), 1.0 / cfg.power)


def griffin_lim(mel: np.ndarray, features: FeatureConfig, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """Griffin-Lim baseline: log-mel ``(n_mels, T)`` -> waveform ``(T * hop,)`` float32.

    librosa's fast Griffin-Lim (momentum 0.99, random initial phase from ``seed``) with the features'
    n_fft, hop and window on the magnitude of :func:`mel_to_magnitude`. librosa frames are centred
    (frame ``t`` centred on sample ``t * hop``); a "same" frame ``t`` is centred ``d = n_fft // 2 - pad``
    samples later, so the magnitude gets one leading frame (a copy of the first), librosa makes
    ``T * hop + hop - d`` samples, and the output starts ``hop - d`` samples in. For "center" a copy of
    the last frame is appended instead, so librosa's own framing yields ``T * hop`` samples.
    """
    import librosa

    cfg = resolve_features(features)
    mag = mel_to_magnitude(mel, cfg)
    frames, hop = mag.shape[1], cfg.hop
    if cfg.padding == "same":
        shift = hop - (frame_pads(cfg.n_fft, hop, "center")[0] - frame_pads(cfg.n_fft, hop, "same")[0])
        mag = np.concatenate([mag[:, :1], mag], axis=1)
    else:
        shift = 0
        mag = np.concatenate([mag, mag[:, -1:]], axis=1)
    wav = librosa.griffinlim(
        mag,
        n_iter=n_iter,
        hop_length=hop,
        win_length=cfg.win,
        n_fft=cfg.n_fft,
        window=hann_numpy(cfg.win),
        center=True,
        length=frames * hop + shift,
        pad_mode="reflect" if cfg.pad_mode == "reflect" else "constant",
        random_state=seed,
    )
    return np.ascontiguousarray(wav[shift : shift + frames * hop], dtype=np.float32)
