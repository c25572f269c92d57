"""Command-line front end: ``vocoder train | train-f0 | synthesize | features | export | evaluate | bench | info``.

Only argument parsing lives here; each subcommand calls into the package. A :class:`VocoderError`
(a user mistake: bad file, bad config) is printed as one ``error:`` line with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from vocoder import __version__
from vocoder.audio.mel_presets import PRESETS
from vocoder.errors import VocoderError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


PRESET_NAMES = tuple(PRESETS)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Raw description/epilog lines where they are indented (examples, lists), wrapped prose elsewhere."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out: list[str] = []
        for line in text.splitlines():
            if not line.strip() or line[:1].isspace():
                out.append(indent + line if line.strip() else "")
            else:
                out.extend(textwrap.wrap(line, width, initial_indent=indent, subsequent_indent=indent) or [""])
        return "\n".join(out)


TRAIN_EPILOG = """examples:
  vocoder train recipes/demo/wavehax.yaml --out runs/wavehax
  vocoder train recipes/demo/wavehax.yaml --out runs/mine --set data.root=/path/to/wavs
  vocoder train runs/wavehax --out runs/wavehax --resume --set train.max_steps=20000
  vocoder train recipes/demo/wavehax.yaml --out runs/tuned --set train.init_from=checkpoints/demo-wavehax
  tensorboard --logdir runs/wavehax/logs        # losses, validation audio and spectrograms"""

SYNTHESIZE_EPILOG = """examples:
  vocoder synthesize checkpoints/demo-istftnet mels/ --out wavs/
  vocoder synthesize checkpoints/demo-wavehax recipes/demo/wavs/digits_1.flac --from-audio --out wavs/
  vocoder synthesize model.onnx mels/ --out wavs/ --mel-preset demo-16k
  vocoder synthesize checkpoints/demo-wavehax mels/ --out wavs/ --f0-from-audio recordings/

mel files:
  .npy   an array (n_mels, frames) or (frames, n_mels)
  .npz   'mel', optional 'f0' (Hz per frame, 0 = unvoiced) and metadata keys, each compared with the
         model's features: 'preset' (a preset name; compared value by value) and any of 'sample_rate',
         'hop', 'n_fft', 'win_length', 'n_mels', 'fmin', 'fmax', 'log', 'clamp', 'padding', 'power',
         'pad_mode', 'mel_scale', 'mel_norm'. `vocoder features` writes such files:
           np.savez("a.npz", mel=mel, f0=f0, preset="demo-16k")
  .pt    a tensor, or a dict with the same keys (read with weights_only=True)
  F0 may also come from NAME.f0.npy beside the mel, or --f0-from-audio DIR."""

FEATURES_EPILOG = """examples:
  vocoder features recipes/demo/wavs/ --out feats/ --model checkpoints/demo-wavehax    # mel + F0
  vocoder features clip.wav --out feats/ --preset hifigan-22k
  vocoder synthesize checkpoints/demo-wavehax feats/ --out wavs/       # reads the .npz files back

.npz keys (what `vocoder synthesize` reads back and checks):
  mel        (n_mels, frames) float32 log-mel
  f0         (frames,) float32 Hz, 0 = unvoiced (with --f0, or a --model that needs F0)
  preset     the preset name, when every setting equals that preset's
  sample_rate, hop, n_fft, win_length, n_mels, fmin, fmax, log, clamp, padding, power, pad_mode,
  mel_scale, mel_norm   the feature settings"""

EXPORT_EPILOG = """examples:
  vocoder export runs/wavehax --out wavehax.onnx --check
  vocoder export runs/wavehax --out wavehax.onnx --frontend   # and wavehax.frontend.onnx, the mel front end
  vocoder synthesize wavehax.onnx mels/ --out wavs/       # onnxruntime, no torch"""

BENCH_EPILOG = """examples:
  vocoder bench --generators demo-istftnet,demo-wavehax --threads 2 --seconds 4
  vocoder bench --generators recipes/demo/pwg.yaml --backends onnx --json bench.json"""

INFO_EPILOG = """examples:
  vocoder info recipes/demo/wavehax.yaml
  vocoder info checkpoints/demo-wavehax
  vocoder info feats/digits_1.npz"""


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.max_steps=200 (repeatable)",
    )


def _run_train(args: argparse.Namespace) -> int:
    from vocoder.config import load_config
    from vocoder.train.run_folder import check_run_folder, resume_config
    from vocoder.train.trainer import TrainingInterrupted, train

    check_run_folder(args.out, resume=args.resume, force=args.force)  # before any config is read
    # --resume trains with the run's saved config and only the --set values given (RECIPE is checked)
    if args.resume:
        cfg = resume_config(args.recipe, args.out, args.overrides)
    else:
        cfg = load_config(args.recipe, args.overrides)
    try:
        train(cfg, args.out, resume=args.resume, force=args.force)  # each validation is a line of its own
    except TrainingInterrupted:  # the checkpoint and the resume command are printed already
        return EXIT_INTERRUPTED
    return 0


def _run_train_f0(args: argparse.Namespace) -> int:
    from vocoder.train.f0_training import train_f0_predictor

    train_f0_predictor(
        args.model, args.data, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
        cache_dir=args.cache_dir, threads=args.threads, log=lambda m: print(m, file=sys.stderr),
    )
    return 0


def _run_synthesize(args: argparse.Namespace) -> int:
    from vocoder.infer.synthesize import synthesize_files

    summary = synthesize_files(
        args.model, args.inputs, args.out, f0_from_audio=args.f0_from_audio, from_audio=args.from_audio,
        threads=args.threads, mel_preset=args.mel_preset, f0_scale=args.f0_scale, predict_f0=args.predict_f0,
    )
    print(summary.line())
    return 0 if summary.ok else EXIT_USER_ERROR


def _run_features(args: argparse.Namespace) -> int:
    from vocoder.infer.feature_files import write_feature_files

    summary = write_feature_files(args.inputs, args.out, preset=args.preset, model=args.model, f0=args.f0 or None)
    print(summary.line())
    return 0 if summary.ok else EXIT_USER_ERROR


def _run_info(args: argparse.Namespace) -> int:
    from vocoder.summary import describe

    print(describe(args.path, args.overrides))
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from vocoder.eval.evaluate import evaluate, format_markdown, parse_factors

    factors = parse_factors(args.f0_factors)
    report = evaluate(
        args.model, args.data, f0_factors=factors, out=args.out, log=lambda m: print(m, file=sys.stderr),
        mos=not args.no_mos, html=args.html, predicted_f0=args.predicted_f0,
    )
    print(format_markdown(report))
    if args.out:
        print(f"report: {args.out}", file=sys.stderr)
    if args.html:
        print(f"page: {os.path.join(args.html, 'index.html')}", file=sys.stderr)
    return 0


def _run_export(args: argparse.Namespace) -> int:
    try:
        from vocoder.infer.onnx_export import export_onnx
    except ModuleNotFoundError as err:  # a slim install (onnxruntime only) has no torch / onnx
        from vocoder.errors import ConfigError

        raise ConfigError(
            f"vocoder export needs {err.name}, from the training extra: pip install 'vocoder[train]'"
        ) from None

    report = export_onnx(
        args.model, args.out, opset=args.opset, check=args.check, frontend=args.frontend, f0_input=args.f0_input
    )
    print(report.summary())
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from vocoder.eval import bench

    if args.json:
        bench.check_json_path(args.json)  # before the bench runs, not after
    report = bench.run_bench(
        generators=bench.parse_list(args.generators, "generators") if args.generators else None,
        backends=bench.parse_list(args.backends, "backends", bench.BACKENDS),
        threads=bench.parse_threads(args.threads),
        seconds=args.seconds,
        repeats=args.repeats,
        chunk_frames=args.chunk_frames,
        log=lambda m: print(m, file=sys.stderr),
    )
    print(bench.format_markdown(report))
    if args.json:
        bench.write_json(report, args.json)
        print(f"rows: {args.json}", file=sys.stderr)
    return 0


class _NamedConfigs:
    """The names ``vocoder bench`` knows (:func:`vocoder.eval.bench.named_configs`), read only when a help
    text shows them (listing them imports the generators, i.e. torch)."""

    def __str__(self) -> str:
        try:
            from vocoder.eval.bench import named_configs

            return ", ".join(named_configs())
        except ImportError as err:
            return f"listed once {err.name} is installed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vocoder",
        description="Train neural vocoders, synthesize speech from mel spectrograms, export to ONNX.",
    )
    parser.add_argument("--version", action="version", version=f"vocoder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "train", help="train a vocoder from a recipe YAML", epilog=TRAIN_EPILOG,
        description="Train a vocoder from a recipe YAML into the run folder --out. A folder that holds a run "
        "already is refused unless --resume (continue it) or --force (replace it). With --resume the run's "
        "saved config (OUT/config.yaml) is used and only the --set values given change it; RECIPE may be the "
        "run folder itself, and a recipe whose generator differs from the run's is refused. Ctrl-C writes a "
        "checkpoint of the current step and prints the command that resumes the run.",
    )
    p.add_argument("recipe", help="recipe YAML (with --resume: the run folder, or the recipe it was trained from)")
    p.add_argument("--out", required=True, help="run folder for checkpoints, logs and the resolved config")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument(
        "--force", action="store_true",
        help="delete the run in --out first (refused for a folder that holds anything but a run)",
    )
    _add_set(p)
    p.set_defaults(func=_run_train)

    p = sub.add_parser(
        "synthesize", help="mel files (or audio with --from-audio) -> wav",
        description="Synthesize a wav for every mel file (or, with --from-audio, every audio file) into --out. "
        "Mels are checked against the model's features: n_mels, values (dB, linear or normalised mels are "
        "refused) and, where known, the settings they were made with. A bad file is one error line; the "
        "others are still written.",
        epilog=SYNTHESIZE_EPILOG, formatter_class=HelpFormatter,
    )
    p.add_argument("model", help="run folder, checkpoint folder, or .onnx file")
    p.add_argument("inputs", nargs="+", help="mel files (.npy/.npz/.pt) or folders of them")
    p.add_argument("--out", required=True, help="output folder for wav files")
    p.add_argument(
        "--mel-preset", "--preset", metavar="NAME", default=None,
        help=f"the preset the mel files were made with ({', '.join(PRESET_NAMES)}); refused unless its "
        "values equal the model's features",
    )
    p.add_argument("--f0-from-audio", metavar="DIR", help="extract F0 from reference audio of the same names")
    p.add_argument("--from-audio", action="store_true", help="inputs are audio: copy synthesis wav -> mel -> wav")
    p.add_argument(
        "--f0-scale", type=float, default=1.0, metavar="FACTOR",
        help="multiply F0 (given or predicted) by FACTOR before synthesis: a pitch shift (models with F0 only)",
    )
    p.add_argument(
        "--predict-f0", action="store_true",
        help="ignore every F0 source and use the model's F0 predictor (models trained with `vocoder train-f0`)",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
    p.set_defaults(func=_run_synthesize)

    p = sub.add_parser(
        "train-f0", help="train the mel -> F0 predictor of a model that needs F0 (Wavehax)",
        description="Train a small F0 + voicing predictor from the log-mel on the audio under --data (F0 labels: "
        "the model's own F0 method and range, cached) and store it in the model folder "
        "(f0_predictor.safetensors + f0_predictor.yaml). Synthesis without F0 then uses it, and `vocoder export` "
        "writes one graph mel -> F0 -> waveform.",
        epilog="examples:\n  vocoder train-f0 checkpoints/demo-wavehax --data recipes/demo/wavs\n"
        "  vocoder synthesize checkpoints/demo-wavehax mels/ --out wavs/       # F0 from the predictor",
    )
    p.add_argument("model", help="model folder (a checkpoint folder with model.safetensors)")
    p.add_argument("--data", nargs="+", required=True, help="folders of training audio (their train split is used)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="F0 label cache (default: the training cache)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
    p.set_defaults(func=_run_train_f0)

    p = sub.add_parser(
        "features", help="audio -> mel (and F0) .npz files matched to a model or preset",
        description="Compute the log-mel (and F0, when the model needs it) of every audio file with the "
        "features of --model or --preset, e.g. to train a TTS front end or prepare fine-tuning data. "
        "Writes OUT/NAME.npz with 'mel' (n_mels, frames), 'f0' (frames,) and the feature settings as "
        "metadata, which `vocoder synthesize` checks when it reads the file. A bad file is one error line; "
        "the others are still written.",
        epilog=FEATURES_EPILOG, formatter_class=HelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files (.wav/.flac/.ogg) or folders of them")
    p.add_argument("--out", required=True, help="output folder for the .npz files")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--preset", metavar="NAME", help=f"mel preset ({', '.join(PRESET_NAMES)})")
    target.add_argument("--model", metavar="PATH", help="run folder, checkpoint folder or .onnx file")
    p.add_argument(
        "--f0", action="store_true", help="also extract F0 (default: only when the --model needs it)",
    )
    p.set_defaults(func=_run_features)

    p = sub.add_parser("export", help="export a generator to ONNX", epilog=EXPORT_EPILOG)
    p.add_argument("model", help="run folder or checkpoint folder")
    p.add_argument("--out", required=True, help="path of the .onnx file")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument(
        "--check", action="store_true",
        help="compare onnxruntime with torch (max abs diff <= 1e-4); with --frontend also the front end with "
        "log_mel_numpy (<= 1e-5, log scale)",
    )
    p.add_argument(
        "--frontend", action="store_true",
        help="also write the model's mel front end (wav (batch, samples) -> mel (batch, n_mels, frames)) as a "
        "second graph beside --out: m.onnx -> m.frontend.onnx",
    )
    p.add_argument(
        "--f0-input", action="store_true",
        help="for a Wavehax folder with an F0 predictor: export the generator with its f0 input instead of the "
        "one graph mel -> F0 -> waveform",
    )
    p.set_defaults(func=_run_export)

    p = sub.add_parser(
        "evaluate", help="objective metrics of copy synthesis on held-out audio",
        description="Copy-synthesize held-out recordings with MODEL and a Griffin-Lim baseline and score them\n"
        "against the recordings (MR-STFT, log-mel L1, MCD, F0 RMSE, V/UV, PESQ-WB and the MOS predictors);\n"
        "prints the means as a Markdown table.",
        epilog="examples:\n  vocoder evaluate runs/demo-wavehax --data heldout/ --out report.json\n"
        "  vocoder evaluate runs/demo-wavehax --data heldout/ --no-mos --html report/   "
        "# then open report/index.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model")
    p.add_argument(
        "--data", required=True,
        help="folder of audio (every file below it is evaluated) or a manifest JSON (its test split)",
    )
    p.add_argument("--f0-factors", default=None, help="comma-separated F0 scale factors, e.g. 0.5,1,2")
    p.add_argument("--out", default=None, help="report JSON path (checked writable before any work)")
    p.add_argument(
        "--html", default=None, metavar="DIR",
        help="also write DIR/index.html: the tables, audio players and spectrograms of every utterance, with "
        "its wavs and images under DIR (checked writable before any work)",
    )
    p.add_argument(
        "--no-mos", action="store_true",
        help="skip the MOS predictors (Distill-MOS, DNSMOS P.808/SIG/BAK/OVRL), which are on by default",
    )
    p.add_argument(
        "--predicted-f0", action="store_true",
        help="synthesize with the model's F0 predictor instead of the recordings' F0, and score the predictor",
    )
    p.set_defaults(func=_run_evaluate)

    p = sub.add_parser("bench", help="real-time factor and memory of each generator", epilog=BENCH_EPILOG)
    action = p.add_argument(
        "--generators", default=None,
        help="comma-separated named configs (%(named)s; default: all) or recipe YAML paths",
    )
    action.named = _NamedConfigs()  # listed from the registry when the help is printed
    p.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--seconds", type=float, default=4.0, help="audio length per run")
    p.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (the median is kept)")
    p.add_argument("--chunk-frames", type=int, default=10, help="mel frames per streaming chunk")
    p.add_argument("--json", default=None, help="write the rows as JSON")
    p.set_defaults(func=_run_bench)

    p = sub.add_parser(
        "info", help="describe a recipe, run, checkpoint, audio folder, .onnx model, mel or audio file",
        epilog=INFO_EPILOG,
    )
    p.add_argument(
        "path", help="recipe YAML, run/checkpoint folder, folder of audio, .onnx file, mel file (.npy/.npz/.pt) "
        "or audio file",
    )
    _add_set(p)
    p.set_defaults(func=_run_info)
    for command in sub.choices.values():  # examples keep their lines; a section may choose its own formatter
        if command.formatter_class is argparse.HelpFormatter:
            command.formatter_class = HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except VocoderError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ModuleNotFoundError as err:  # a slim install (onnxruntime only) asked for torch: one line, no traceback
        if err.name != "torch" and not (err.name or "").startswith("torch."):
            raise
        extra = "from the training extra: pip install 'vocoder[train]'"
        print(f"error: vocoder {args.command} needs torch for this, {extra}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # e.g. `vocoder info ... | head`: the reader left, nothing to report
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
