#!/usr/bin/env python3
"""Per-sentence translation latency: loquilex's warm Apertium provider against apertium-apy and a
cold `apertium` process, side by side in one run, on the same sentences and the same pair.

  (a) loquilex   build/lx_bench_mt_latency: CreateApertiumProvider + Open (warm pipeline, cache
                 off), each sentence timed around Translator::Translate, in process
  (b) apy        apertium-apy on a free loopback port with the installed modes, warmed, each
                 sentence one GET /translate?langpair=eng|spa&markUnknown=no&q=... (HTTP
                 keep-alive; the figure includes its loopback round trip, measured on its own
                 as "apy /listPairs")
  (c) cold       `apertium -u eng-spa` started for each sentence, text on stdin

The sentences are the reference transcripts of Debian's pocketsphinx-testdata LibriVox clips
(capitalized, with a full stop). (a) and (b) first translate each once untimed, as services
that have seen traffic, then --rounds times in turn, timed. Each tool reports p50/p95
of the per-sentence wall time and sentences per second; the run is repeated --runs times and the
medians and ratios are printed. Also checks that (a) and (b) give the same translations.

Needs python3 (stdlib only), apertium, apertium-eng-spa, apertium-apy and a built lx_bench_mt_latency
(`cmake --build build --target lx_bench_mt_latency`). Figures: docs/BENCHMARKS.md.
"""

import argparse
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
MODES_DIR = "/usr/share/apertium/modes"
P95_RATIO_TARGET = 3.0  # apy's p95 over loquilex's, at least


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--rounds", type=int, default=20,
                        help="times each sentence is translated per run by (a) and (b) (default 20)")
    parser.add_argument("--cold-rounds", type=int, default=2,
                        help="times each sentence is translated per run by (c) (default 2)")
    parser.add_argument("--pair", default="eng-spa", help="Apertium pair (default eng-spa)")
    parser.add_argument("--mt-latency", type=Path,
                        default=REPO_ROOT / "build" / "lx_bench_mt_latency",
                        help="the benchmark helper (default build/lx_bench_mt_latency)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    if args.runs < 1 or args.rounds < 1 or args.cold_rounds < 1:
        parser.error("--runs, --rounds and --cold-rounds must be at least 1")
    return args


def die(message: str) -> None:
    print(f"translate_latency: {message}", file=sys.stderr)
    sys.exit(1)


def read_sentences(data_dir: Path) -> list:
    """The LibriVox reference transcripts (`<s> words </s> (id)`) made sentences."""
    sentences = []
    for line in (data_dir / "transcription").read_text().splitlines():
        text = line.rpartition("(")[0].replace("<s>", "").replace("</s>", "").strip()
        if text:
            sentences.append(text[0].upper() + text[1:] + ".")
    return sentences


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ms: list) -> dict:
    return {
        "p50_ms": percentile(latencies_ms, 0.50),
        "p95_ms": percentile(latencies_ms, 0.95),
        "sentences_per_s": len(latencies_ms) / (sum(latencies_ms) / 1000),
        "n": len(latencies_ms),
    }


def run_loquilex(args, sentences: list) -> tuple:
    source, target = args.pair.split("-")
    result = subprocess.run([str(args.mt_latency), source, target, str(args.rounds)],
                            input="\n".join(sentences) + "\n", capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        die(f"mt_latency failed: {result.stderr.strip()}")
    report = json.loads(result.stdout)
    return report["latencies_ms"], report["translations"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Apy:
    """apertium-apy on loopback, stopped on exit."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log = open(log_dir / "apy.log", "w")
        self.process = subprocess.Popen(
            ["apertium-apy", "-p", str(self.port), MODES_DIR], stdout=self.log,
            stderr=subprocess.STDOUT)
        self.connection = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.get("/listPairs")
                return
            except OSError:
                self.connection = None
                if self.process.poll() is not None:
                    die(f"apertium-apy exited; see {log_dir / 'apy.log'}")
                time.sleep(0.2)
        die("apertium-apy did not answer within 30 s")

    def get(self, path: str) -> dict:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            die(f"apertium-apy answered {response.status} to {path}: {body[:200]!r}")
        return json.loads(body)

    def translate(self, pair: str, text: str) -> str:
        query = urllib.parse.urlencode({"langpair": pair.replace("-", "|"), "markUnknown": "no",
                                        "q": text})
        return self.get("/translate?" + query)["responseData"]["translatedText"]

    def close(self):
        if self.connection is not None:
            self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def run_apy(apy: Apy, args, sentences: list) -> tuple:
    for sentence in sentences:  # starts the pair's pipeline; one untimed round, as for (a)
        apy.translate(args.pair, sentence)
    latencies, translations, floor = [], [], []
    for round_index in range(args.rounds):
        for sentence in sentences:
            start = time.perf_counter()
            translation = apy.translate(args.pair, sentence)
            latencies.append((time.perf_counter() - start) * 1000)
            if round_index == 0:
                translations.append(translation)
        start = time.perf_counter()
        apy.get("/listPairs")
        floor.append((time.perf_counter() - start) * 1000)
    return latencies, translations, floor


def run_cold(args, sentences: list) -> list:
    latencies = []
    for _ in range(args.cold_rounds):
        for sentence in sentences:
            start = time.perf_counter()
            subprocess.run(["apertium", "-u", args.pair], input=sentence, capture_output=True,
                           text=True, check=True)
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def print_table(title: str, rows: list) -> None:
    print(title)
    print(f"  {'tool':<22} {'p50 ms':>9} {'p95 ms':>9} {'sent/s':>9} {'n':>5}")
    for name, figures in rows:
        print(f"  {name:<22} {figures['p50_ms']:>9.2f} {figures['p95_ms']:>9.2f} "
              f"{figures['sentences_per_s']:>9.1f} {figures['n']:>5}")


def main() -> None:
    args = parse_args()
    for program in ("apertium", "apertium-apy"):
        if shutil.which(program) is None:
            die(f"{program} not found; install it (make setup)")
    if not args.mt_latency.is_file():
        die(f"{args.mt_latency} is missing; build it: "
            "cmake --build build --target lx_bench_mt_latency")
    sentences = read_sentences(args.data_dir)
    print(f"{len(sentences)} LibriVox sentences, pair {args.pair}, {args.runs} runs; "
          f"(a) and (b) {args.rounds} rounds, (c) {args.cold_rounds} rounds per run\n")
    runs = []
    with tempfile.TemporaryDirectory(prefix="lx_translate_bench_") as tmp:
        apy = Apy(Path(tmp))
        try:
            for run in range(args.runs):
                loquilex, ours = run_loquilex(args, sentences)
                apy_latencies, theirs, floor = run_apy(apy, args, sentences)
                cold = run_cold(args, sentences)
                if [" ".join(t.split()) for t in ours] != [" ".join(t.split()) for t in theirs]:
                    print(f"warning: translations differ:\n  loquilex {ours}\n  apy      {theirs}")
                rows = [("loquilex (a)", summary(loquilex)), ("apertium-apy (b)", summary(apy_latencies)),
                        ("apy /listPairs", summary(floor)), ("cold apertium (c)", summary(cold))]
                print_table(f"run {run + 1}", rows)
                runs.append(dict(rows))
        finally:
            apy.close()
    medians = {name: {key: statistics.median(run[name][key] for run in runs)
                      for key in ("p50_ms", "p95_ms", "sentences_per_s", "n")}
               for name in runs[0]}
    print()
    print_table(f"median of {args.runs} runs", list(medians.items()))
    ours, apy_figures, cold = medians["loquilex (a)"], medians["apertium-apy (b)"], medians["cold apertium (c)"]
    apy_ratio = apy_figures["p95_ms"] / ours["p95_ms"]
    print(f"\napy p95 / loquilex p95:  {apy_ratio:.1f}x (target >= {P95_RATIO_TARGET:.0f}x: "
          f"{'met' if apy_ratio >= P95_RATIO_TARGET else 'NOT met'})")
    print(f"cold p95 / loquilex p95: {cold['p95_ms'] / ours['p95_ms']:.0f}x")
    print(f"apy p50 / loquilex p50:  {apy_figures['p50_ms'] / ours['p50_ms']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
