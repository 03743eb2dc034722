#!/usr/bin/env python3
"""Measure how `loquilex serve` delivers one session's captions to many viewers, and how it takes
a reconnect storm.

For each viewer count (default 1, 100 and 1000) and run, the script starts a fresh
`loquilex serve --port 0` on loopback, starts a file session playing the LibriVox clips of
Debian's pocketsphinx-testdata (their concatenation, ~33 s, at speed 1.0), and attaches that many
WebSocket viewers with the load generator bench/ws_viewers.cc (`lx_bench_viewers`, one thread,
built by `make bench`). It reports

  final delivery lag   receive time of each asr.final at each viewer minus the event's t_mono_ns
                       (when the session produced it), p50 / p99 over all viewers' finals
  RSS per viewer       the server's peak VmRSS during the run, minus that of the one-viewer run,
                       divided by the additional viewers
  completeness         viewers whose asr.final seqs equal the control viewer's (no loss, no
                       duplicate, in order)

and then a reconnect storm: 1000 viewers (--storm-viewers) of which all but the control drop their
sockets at once 10 s after the first final and reconnect at once with ?resume_from=<last seq>:
the time until every one has caught up (got an event at least as new as the newest any viewer
had when the storm began), snapshots received (resume_from older than the replay buffer), and
whether every viewer still holds every final. Medians over --runs are printed.

Needs python3 (stdlib), sox, a built loquilex and lx_bench_viewers (`make bench` builds both).
See docs/BENCHMARKS.md for recorded figures.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import serve_latency
from serve_latency import DEFAULT_DATA_DIR, REPO_ROOT, Server, prepare_audio

STORM_AFTER_S = 10.0  # after the first final: the session is mid-way through the audio


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Figures and how to read them: docs/BENCHMARKS.md")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 100, 1000],
                        help="viewer counts to measure (default 1 100 1000)")
    parser.add_argument("--storm-viewers", type=int, default=1000,
                        help="viewers in the reconnect storm (default 1000; 0 = no storm)")
    parser.add_argument("--binary", type=Path, default=REPO_ROOT / "build" / "loquilex")
    parser.add_argument("--viewers-binary", type=Path,
                        default=REPO_ROOT / "build" / "lx_bench_viewers")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    if args.runs < 1 or min(args.viewers) < 1:
        parser.error("--runs and --viewers must be at least 1")
    return args


def die(message: str) -> None:
    print(f"fanout: {message}", file=sys.stderr)
    sys.exit(1)


def admission_args(binary: Path, viewers: int) -> tuple:
    """Serve flags that let `viewers` viewers in, for the limits this binary has."""
    help_text = subprocess.run([str(binary), "serve", "--help"], capture_output=True,
                               text=True).stdout
    out = []
    for flag in ("--max-connections", "--max-clients-per-session"):
        if flag in help_text:
            out += [flag, str(viewers + 16)]
    return tuple(out)


class RssSampler(threading.Thread):
    """The peak VmRSS (bytes) of a process, sampled every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except OSError:
                return
            time.sleep(0.05)


def run_case(args, audio, viewers: int, storm: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="lx-fanout-") as tmp:
        server = Server(args.binary, Path(tmp), admission_args(args.binary, viewers))
        sampler = RssSampler(server.process.pid)
        sampler.start()
        try:
            body = {"name": "fanout", "source": {"type": "file", "path": str(audio.path),
                                                 "speed": 1.0}}
            status, created, _, _ = server.request("POST", "/sessions", body)
            if status != 201:
                die(f"POST /sessions answered {status}: {created}")
            command = [str(args.viewers_binary), "--port", str(server.port),
                       "--session", created["session_id"], "--viewers", str(viewers),
                       "--timeout-s", str(audio.seconds + 120)]
            if storm:
                command += ["--storm-after-s", str(STORM_AFTER_S)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                die(f"lx_bench_viewers failed: {result.stderr.strip()}")
            report = json.loads(result.stdout)
        finally:
            sampler.running = False
            sampler.join()
            server.stop()
        report["rss_peak_bytes"] = sampler.peak
        return report


def median(values: list) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    args = parse_args()
    serve_latency.check_prerequisites(args)
    if not args.viewers_binary.is_file():
        die(f"{args.viewers_binary} is missing; build it with `make bench`")
    with tempfile.TemporaryDirectory(prefix="lx-fanout-audio-") as tmp:
        audio = prepare_audio(args.data_dir, Path(tmp), separate=False)[0]
        print(f"One file session ({audio.seconds:.1f} s of LibriVox speech at speed 1.0) per run, "
              f"{args.runs} run(s) per case; fresh server per run", flush=True)
        cases = {}
        for viewers in args.viewers:
            cases[viewers] = [run_case(args, audio, viewers, storm=False)
                              for _ in range(args.runs)]
        storms = ([run_case(args, audio, args.storm_viewers, storm=True)
                   for _ in range(args.runs)] if args.storm_viewers > 0 else [])

    base_rss = median([r["rss_peak_bytes"] for r in cases.get(1, [])]) if 1 in cases else None
    print()
    print("| viewers | final lag p50 (ms) | final lag p99 (ms) | max (ms) | server peak RSS (MB) "
          "| RSS per extra viewer (KB) | viewers with every final | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for viewers, runs in cases.items():
        rss = median([r["rss_peak_bytes"] for r in runs])
        per_viewer = ("" if base_rss is None or viewers == 1
                      else f"{(rss - base_rss) / (viewers - 1) / 1024:.1f}")
        complete = min(r["viewers_with_the_controls_finals"] for r in runs)
        print(f"| {viewers} | {median([r['final_lag_ms']['p50'] for r in runs]):.2f} "
              f"| {median([r['final_lag_ms']['p99'] for r in runs]):.2f} "
              f"| {median([r['final_lag_ms']['max'] for r in runs]):.2f} "
              f"| {rss / 1e6:.1f} | {per_viewer} | {complete}/{viewers} (worst run) "
              f"| {sum(r['errors'] for r in runs)} |")
    if storms:
        print()
        print(f"Reconnect storm: {args.storm_viewers} viewers, all but one drop and resume "
              f"{STORM_AFTER_S:g} s after the first final")
        print("| run | reconnected | caught up | catch-up p50 (ms) | p99 (ms) | all caught up (ms) "
              "| snapshots | viewers with every final | errors |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i, r in enumerate(storms):
            s = r.get("storm", {})
            c = s.get("catch_up_ms", {})
            print(f"| {i + 1} | {s.get('reconnected', 0)} | {s.get('caught_up', 0)} "
                  f"| {c.get('p50', float('nan')):.1f} | {c.get('p99', float('nan')):.1f} "
                  f"| {c.get('max', float('nan')):.1f} | {s.get('snapshots', 0)} "
                  f"| {r['viewers_with_the_controls_finals']}/{r['viewers']} | {r['errors']} "
                  f"{r['first_error']} |")
        print(f"Median time until all caught up: "
              f"{median([r['storm']['catch_up_ms']['max'] for r in storms if 'storm' in r]):.1f} ms")


if __name__ == "__main__":
    main()
