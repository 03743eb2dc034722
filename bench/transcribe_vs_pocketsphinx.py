#!/usr/bin/env python3
"""Compare `loquilex transcribe` with Debian's pocketsphinx_continuous on the same audio and model.

Three tools, each with its default settings:
  (a) loquilex transcribe CLIP --format txt -             (streaming, 200 ms end-of-speech silence)
  (b) pocketsphinx_continuous -infile CLIP -logfn /dev/null       (500 ms end-of-speech silence)
  (c) (b) with -vad_postspeech 20                          (the same endpointing as loquilex)

They run over the five LibriVox clips of Debian's pocketsphinx-testdata and over their
concatenation. For each tool the script prints the word error rate against the reference
transcription, the CPU time (user+sys of the child, from wait4) per audio second (median over
--runs), the model-load cost (measured on a 0.1 s silent clip) and the CPU per audio second with
that cost taken out, and the peak resident set size. Both programs load the model on every run,
which dominates on clips of a few seconds.

Needs python3 (stdlib only), sox, pocketsphinx_continuous and a built loquilex. See
docs/BENCHMARKS.md for recorded figures.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
SILENT_CLIP_S = 0.1
CPU_RATIO_TARGET = 1.10


@dataclass(frozen=True)
class Tool:
    key: str  # short column label
    title: str  # what the column is
    argv_prefix: tuple  # argv before the clip-dependent part
    infile_flag: str  # "" when the clip is a positional argument
    argv_suffix: tuple  # argv after the clip

    def argv(self, clip: Path) -> list:
        clip_args = [self.infile_flag, str(clip)] if self.infile_flag else [str(clip)]
        return [*self.argv_prefix, *clip_args, *self.argv_suffix]

    def command_line(self) -> str:
        return " ".join(self.argv(Path("CLIP")))


@dataclass
class Sample:
    """One run of one tool on one clip."""

    text: str
    cpu_s: float
    wall_s: float
    maxrss_kib: int


@dataclass
class Clip:
    name: str
    path: Path
    audio_s: float
    reference: list = field(default_factory=list)  # reference words; empty for the silent clip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Figures and how to read them: docs/BENCHMARKS.md",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and clip (default 3)")
    parser.add_argument(
        "--binary",
        type=Path,
        default=REPO_ROOT / "build" / "loquilex",
        help="loquilex binary (default: build/loquilex in the repository)",
    )
    parser.add_argument(
        "--pocketsphinx",
        default="pocketsphinx_continuous",
        help="pocketsphinx_continuous binary (default: from PATH)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder with the clips, fileids and transcription (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--show-text", action="store_true", help="also print each tool's hypothesis per clip"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def die(message: str) -> None:
    print(f"transcribe_vs_pocketsphinx: {message}", file=sys.stderr)
    sys.exit(1)


def make_tools(binary: Path, pocketsphinx: str) -> list:
    ps_prefix = (pocketsphinx,)
    ps_suffix = ("-logfn", "/dev/null")
    return [
        Tool("loquilex", "loquilex transcribe (a)", (str(binary), "transcribe"), "",
             ("--format", "txt", "-")),
        Tool("ps", "pocketsphinx_continuous (b)", ps_prefix, "-infile", ps_suffix),
        Tool("ps-pp20", "pocketsphinx_continuous -vad_postspeech 20 (c)", ps_prefix, "-infile",
             (*ps_suffix, "-vad_postspeech", "20")),
    ]


def check_prerequisites(args: argparse.Namespace) -> str:
    if not (args.binary.is_file() and os.access(args.binary, os.X_OK)):
        die(f"{args.binary} is not an executable; build it with `make build` or pass --binary")
    pocketsphinx = shutil.which(args.pocketsphinx)
    if pocketsphinx is None:
        die(f"{args.pocketsphinx} not found; install Debian's pocketsphinx package (make setup)")
    if shutil.which("sox") is None:
        die("sox not found; install Debian's sox package (make setup)")
    for name in ("fileids", "transcription"):
        if not (args.data_dir / name).is_file():
            die(f"{args.data_dir / name} is missing; install Debian's pocketsphinx-testdata")
    return pocketsphinx


def normalize(text: str) -> list:
    """Lower-case words without sentence markers, fillers or alternate-pronunciation tags."""
    words = []
    for word in text.lower().split():
        if word.startswith(("<", "[", "+")):
            continue
        if word.endswith(")") and "(" in word:
            word = word[: word.index("(")]
        words.append(word)
    return words


def read_references(data_dir: Path) -> dict:
    """Utterance id -> reference words, from lines like `<s> words </s> (id)`."""
    references = {}
    for line in (data_dir / "transcription").read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        text, _, utt_id = line.rpartition("(")
        references[utt_id.rstrip(")").strip()] = normalize(text)
    return references


def edit_distance(reference: list, hypothesis: list) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def audio_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def sox(*argv) -> None:
    result = subprocess.run(["sox", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        die(f"sox {' '.join(argv)} failed: {result.stderr.strip()}")


def prepare_clips(data_dir: Path, workdir: Path) -> tuple:
    """The test clips, their concatenation and a 0.1 s silent clip (16 kHz mono 16-bit WAV)."""
    references = read_references(data_dir)
    ids = [line.strip() for line in (data_dir / "fileids").read_text().splitlines() if line.strip()]
    clips = []
    for utt_id in ids:
        path = data_dir / f"{utt_id}.wav"
        if not path.is_file() or utt_id not in references:
            die(f"{path} or its reference is missing")
        clips.append(Clip(utt_id, path, audio_seconds(path), references[utt_id]))
    wav_format = ("-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer")
    concat_path = workdir / "concatenation.wav"
    sox("-D", *[str(c.path) for c in clips], *wav_format, str(concat_path))
    concat = Clip("concatenation", concat_path, audio_seconds(concat_path),
                  [w for c in clips for w in c.reference])
    silent_path = workdir / "silence.wav"
    sox("-D", "-n", *wav_format, str(silent_path), "trim", "0", str(SILENT_CLIP_S))
    silent = Clip("silence", silent_path, audio_seconds(silent_path))
    return clips, concat, silent


def run_once(argv: list, workdir: Path) -> Sample:
    """Runs argv to completion; its stdout is the result, CPU and RSS come from wait4."""
    out_path, err_path = workdir / "stdout", workdir / "stderr"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(out_path), flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(err_path), flags, 0o644),
    ]
    started = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall_s = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        die(f"`{' '.join(argv)}` exited with {code}: {err_path.read_text().strip()[-500:]}")
    # wait4 also counts descendants the child reaped (loquilex's model probe).
    return Sample(out_path.read_text(), usage.ru_utime + usage.ru_stime, wall_s, usage.ru_maxrss)


def measure(tools: list, clips: list, runs: int, workdir: Path) -> dict:
    """(tool key, clip name) -> [Sample per run]. Tool order rotates so noise hits all alike."""
    samples = {(t.key, c.name): [] for t in tools for c in clips}
    total = runs * len(clips) * len(tools)
    done = 0
    for run in range(runs):
        for index, clip in enumerate(clips):
            shift = (run + index) % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                samples[(tool.key, clip.name)].append(run_once(tool.argv(clip.path), workdir))
                done += 1
                print(f"\r  measuring: {done}/{total}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return samples


@dataclass
class Figures:
    """One tool's results."""

    errors_clips: int
    errors_concat: int
    unstable: list  # clips whose hypothesis changed between runs
    cpu_clips: list  # per run: CPU s summed over the five clips
    cpu_concat: list  # per run
    cpu_load: list  # per run, on the silent clip
    maxrss_kib: int
    texts: dict  # clip name -> hypothesis of the first run


def summarize(tool: Tool, clips: list, concat: Clip, silent: Clip, samples: dict) -> Figures:
    def runs_of(clip: Clip) -> list:
        return samples[(tool.key, clip.name)]

    texts = {c.name: runs_of(c)[0].text for c in [*clips, concat]}
    unstable = [c.name for c in [*clips, concat] if len({s.text for s in runs_of(c)}) > 1]
    errors_clips = sum(edit_distance(c.reference, normalize(texts[c.name])) for c in clips)
    errors_concat = edit_distance(concat.reference, normalize(texts[concat.name]))
    runs = len(runs_of(concat))
    cpu_clips = [sum(runs_of(c)[r].cpu_s for c in clips) for r in range(runs)]
    every = [s for c in [*clips, concat, silent] for s in runs_of(c)]
    return Figures(errors_clips, errors_concat, unstable, cpu_clips,
                   [s.cpu_s for s in runs_of(concat)], [s.cpu_s for s in runs_of(silent)],
                   max(s.maxrss_kib for s in every), texts)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def render(tools: list, figs: dict, clips: list, concat: Clip, runs: int) -> tuple:
    audio_clips = sum(c.audio_s for c in clips)
    words_clips = sum(len(c.reference) for c in clips)
    med = statistics.median

    def per_tool(fig: Figures) -> dict:
        load = med(fig.cpu_load)
        return {
            "wer_clips": fig.errors_clips / words_clips,
            "wer_concat": fig.errors_concat / len(concat.reference),
            "cpu_clips": med(fig.cpu_clips) / audio_clips,
            "net_clips": (med(fig.cpu_clips) - len(clips) * load) / audio_clips,
            "cpu_concat": med(fig.cpu_concat) / concat.audio_s,
            "net_concat": (med(fig.cpu_concat) - load) / concat.audio_s,
            "load": load,
            "rss": fig.maxrss_kib / 1024,
        }

    values = {t.key: per_tool(figs[t.key]) for t in tools}
    rows = [
        ("wer_clips", f"WER, {len(clips)} clips ({words_clips} words)", "pct"),
        ("wer_concat", f"WER, concatenation ({concat.audio_s:.1f} s)", "pct"),
        ("cpu_clips", f"CPU s / audio s, {len(clips)} clips ({audio_clips:.1f} s)", "f3"),
        ("net_clips", "  same, model load excluded", "f3"),
        ("cpu_concat", "CPU s / audio s, concatenation", "f3"),
        ("net_concat", "  same, model load excluded", "f3"),
        ("load", f"Model load: CPU s on a {SILENT_CLIP_S} s silent clip", "f3"),
        ("rss", "Peak RSS, MiB (ru_maxrss)", "f1"),
    ]
    base, same_vad = tools[0].key, tools[2].key
    headers = ["", "(a) loquilex", "(b) ps_cont.", "(c) ps_cont. pp20", "a/b", "a/c"]
    table = []
    for key, label, kind in rows:
        cells = [label]
        for tool in tools:
            v = values[tool.key][key]
            cells.append(f"{100 * v:.1f}%" if kind == "pct" else
                         f"{v:.3f}" if kind == "f3" else f"{v:.1f}")
        if kind == "pct":
            cells += ["", ""]
        else:
            cells += [f"{ratio(values[base][key], values[t][key]):.2f}"
                      for t in (tools[1].key, same_vad)]
        table.append(cells)
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]

    def line(cells: list) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in table]
    out.append("")
    out.append(f"CPU figures are medians over {runs} run(s); load-excluded = (median CPU - clips x "
               "median load) / audio s. Spread (min-max) of CPU s per run:")
    for tool in tools:
        fig = figs[tool.key]
        spread = "; ".join(f"{name} {min(v):.2f}-{max(v):.2f}" for name, v in
                           (("5 clips", fig.cpu_clips), ("concat", fig.cpu_concat),
                            ("load", fig.cpu_load)))
        out.append(f"  {tool.key:9s} {spread}")
    out.append("Paired ratios (each run's tools ran back to back, so slow load swings cancel): "
               "median [min-max] of per-run CPU ratios")
    for other in tools[1:]:
        paired = []
        for name in ("cpu_clips", "cpu_concat"):
            runs_a, runs_o = getattr(figs[base], name), getattr(figs[other.key], name)
            per_run = [ratio(x, y) for x, y in zip(runs_a, runs_o)]
            label = "5 clips" if name == "cpu_clips" else "concat"
            paired.append(f"{label} {med(per_run):.2f} [{min(per_run):.2f}-{max(per_run):.2f}]")
        out.append(f"  {base + '/' + other.key:17s} {'; '.join(paired)}")
    out.append("")
    out.append(verdicts(tools, figs, values))
    return "\n".join(out), values


def verdicts(tools: list, figs: dict, values: dict) -> str:
    a, b = values[tools[0].key], values[tools[1].key]
    wer_ok = a["wer_clips"] <= b["wer_clips"] and a["wer_concat"] <= b["wer_concat"]
    gross = [ratio(a[k], b[k]) for k in ("cpu_clips", "cpu_concat")]
    net = [ratio(a[k], b[k]) for k in ("net_clips", "net_concat")]
    cpu_ok = all(r <= CPU_RATIO_TARGET for r in gross)
    unstable = [f"{t.key}: {', '.join(figs[t.key].unstable)}"
                for t in tools if figs[t.key].unstable]
    lines = [
        f"WER: loquilex streaming no worse than batch decode: {'yes' if wer_ok else 'no'} "
        f"(5 clips {100 * a['wer_clips']:.1f}% vs {100 * b['wer_clips']:.1f}%, "
        f"concatenation {100 * a['wer_concat']:.1f}% vs {100 * b['wer_concat']:.1f}%)",
        f"CPU ratio <= {CPU_RATIO_TARGET:.2f}: {'yes' if cpu_ok else 'no'} "
        f"(loquilex / pocketsphinx_continuous as run: 5 clips {gross[0]:.2f}, "
        f"concatenation {gross[1]:.2f}; model load excluded: {net[0]:.2f}, {net[1]:.2f})",
    ]
    if unstable:
        lines.append("Note: hypotheses changed between runs for " + "; ".join(unstable) +
                     " (WER uses the first run)")
    return "\n".join(lines)


def per_clip_report(tools: list, figs: dict, clips: list, concat: Clip, show_text: bool) -> str:
    out = ["Word errors per clip (reference words in brackets):"]
    for clip in [*clips, concat]:
        errors = "  ".join(
            f"{t.key} {edit_distance(clip.reference, normalize(figs[t.key].texts[clip.name])):2d}"
            for t in tools)
        out.append(f"  {clip.name:45s} [{len(clip.reference):2d}]  {errors}")
        if show_text:
            out.append(f"    {'reference':9s} {' '.join(clip.reference)}")
            for tool in tools:
                text = " / ".join(l for l in figs[tool.key].texts[clip.name].splitlines() if l)
                out.append(f"    {tool.key:9s} {text}")
    return "\n".join(out)


def main() -> None:
    args = parse_args()
    pocketsphinx = check_prerequisites(args)
    tools = make_tools(args.binary, pocketsphinx)
    with tempfile.TemporaryDirectory(prefix="lx-bench-") as tmp:
        workdir = Path(tmp)
        clips, concat, silent = prepare_clips(args.data_dir, workdir)
        print("Tools (same model, /usr/share/pocketsphinx/model/en-us, default settings):")
        for tool in tools:
            print(f"  {tool.key:9s} {tool.command_line()}")
        print(f"Clips: {len(clips)} from {args.data_dir}, their concatenation "
              f"({concat.audio_s:.2f} s) and a {silent.audio_s} s silent clip; {args.runs} run(s)")
        samples = measure(tools, [*clips, concat, silent], args.runs, workdir)
    figs = {t.key: summarize(t, clips, concat, silent, samples) for t in tools}
    table, values = render(tools, figs, clips, concat, args.runs)
    print()
    print(table)
    print()
    print(per_clip_report(tools, figs, clips, concat, args.show_text))
    if args.json:
        args.json.write_text(json.dumps({
            "runs": args.runs,
            "commands": {t.key: t.command_line() for t in tools},
            "audio_s": {c.name: c.audio_s for c in [*clips, concat, silent]},
            "summary": values,
            "samples": {f"{k[0]} {k[1]}": [vars(s) for s in v] for k, v in samples.items()},
        }, indent=2))


if __name__ == "__main__":
    main()
