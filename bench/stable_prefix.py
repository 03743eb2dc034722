#!/usr/bin/env python3
"""How often a final revises the stable prefix its partials showed, and what stability costs.

Runs `loquilex transcribe --format json` over recorded speech from Debian's pocketsphinx-testdata
(the five LibriVox clips, the same clips slowed to 0.9x, sped up to 1.1x and with white noise
added by sox, and goforward/numbers/something and the five `cards` clips), once per
--stable-after-ms value, and prints per value: finals, finals that revised their stable prefix
(the `stable_prefix_revisions` metric: the final does not begin with the last stable prefix a
partial of its segment showed), and the word error rate on the LibriVox-based clips.

For the word error rate it also runs Debian's pocketsphinx_continuous (default settings: its
fwdflat and bestpath second passes on) over the same LibriVox-based clips, so the one-pass
streaming decode is compared with the two-pass batch decode on 20 clips rather than 5.

Needs python3 (stdlib only), sox, pocketsphinx_continuous and a built loquilex. See
docs/BENCHMARKS.md for recorded figures.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from transcribe_vs_pocketsphinx import edit_distance, normalize, read_references

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
LIBRIVOX = TESTDATA / "librivox"
# sox effects making the perturbed copies: name -> effect arguments
PERTURBATIONS = {
    "slow": ["speed", "0.9"],
    "fast": ["speed", "1.1"],
}
NOISE_VOLUME = "0.02"  # white noise mixed in, relative to full scale


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, default=REPO_ROOT / "build" / "loquilex",
                        help="loquilex binary (default: build/loquilex in the repository)")
    parser.add_argument("--pocketsphinx", default="pocketsphinx_continuous",
                        help="pocketsphinx_continuous binary (default: from PATH)")
    parser.add_argument("--stable-after-ms", type=int, nargs="+", default=[100, 200, 300, 400, 600],
                        help="values to compare (default: 100 200 300 400 600)")
    return parser.parse_args()


def die(message: str) -> None:
    print(f"stable_prefix.py: {message}", file=sys.stderr)
    sys.exit(2)


def run(argv: list) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        die(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()[-300:]}")
    return result.stdout


def prepare(workdir: Path) -> tuple:
    """Returns ({path: reference words or None}, number of clips with a reference)."""
    clips = {}
    refs = read_references(LIBRIVOX)
    for clip, ref in sorted(refs.items()):
        source = LIBRIVOX / f"{clip}.wav"
        clips[source] = ref
        for name, effect in PERTURBATIONS.items():
            out = workdir / f"{clip}-{name}.wav"
            run(["sox", str(source), "-r", "16000", "-b", "16", "-c", "1", str(out), *effect])
            clips[out] = ref
        noise = workdir / f"{clip}-noise.wav"
        noisy = subprocess.run(["sox", "-R", str(source), "-p", "synth", "whitenoise", "vol", NOISE_VOLUME],
                               capture_output=True, check=True).stdout
        subprocess.run(["sox", "-m", str(source), "-", "-r", "16000", "-b", "16", "-c", "1",
                        str(noise)], input=noisy, capture_output=True, check=True)
        clips[noise] = ref
    with_reference = len(clips)
    for raw in ("goforward.raw", "numbers.raw", "something.raw"):
        out = workdir / raw.replace(".raw", ".wav")
        run(["sox", "-t", "raw", "-r", "16000", "-b", "16", "-c", "1", "-e", "signed",
             str(TESTDATA / raw), str(out)])
        clips[out] = None
    for wav in sorted((TESTDATA / "cards").glob("*.wav")):
        clips[wav] = None
    return clips, with_reference


def loquilex(binary: Path, clip: Path, stable_after_ms: int) -> tuple:
    out = json.loads(run([str(binary), "transcribe", str(clip), "--format", "json", "--quiet",
                          "--stable-after-ms", str(stable_after_ms), "-"]))
    metrics = out["metadata"]["metrics"]
    words = [w for f in out["finals"] for w in normalize(f["text"])]
    return metrics["finals"], metrics["stable_prefix_revisions"], words


def pocketsphinx(binary: str, clip: Path) -> list:
    return normalize(run([binary, "-infile", str(clip), "-logfn", "/dev/null"]))


def main() -> None:
    args = parse_args()
    if not args.binary.exists():
        die(f"{args.binary} not found: run `make build` first")
    for tool in ("sox", args.pocketsphinx):
        if shutil.which(tool) is None:
            die(f"{tool} not found: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="lx-stable-") as tmp:
        clips, with_reference = prepare(Path(tmp))
        ref_words = sum(len(r) for r in clips.values() if r)
        print(f"{len(clips)} clips; {with_reference} LibriVox-based with {ref_words} reference words")
        print()
        print("| stable_after_ms | finals | revised | share | WER (LibriVox-based) |")
        print("|----------------:|-------:|--------:|------:|---------------------:|")
        for value in args.stable_after_ms:
            finals = revised = errors = 0
            for clip, ref in clips.items():
                n, r, words = loquilex(args.binary, clip, value)
                finals, revised = finals + n, revised + r
                if ref:
                    errors += edit_distance(ref, words)
            print(f"| {value:>15} | {finals:>6} | {revised:>7} | {revised / max(finals, 1):>5.0%} "
                  f"| {errors / ref_words:>11.1%} ({errors}/{ref_words}) |")
        ps_errors = sum(edit_distance(ref, pocketsphinx(args.pocketsphinx, clip))
                        for clip, ref in clips.items() if ref)
        print()
        print(f"pocketsphinx_continuous (fwdflat + bestpath, 500 ms silence), LibriVox-based clips: "
              f"WER {ps_errors / ref_words:.1%} ({ps_errors}/{ref_words})")


if __name__ == "__main__":
    main()
