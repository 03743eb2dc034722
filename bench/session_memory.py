#!/usr/bin/env python3
"""Memory per live session: the resident set of `loquilex serve` with 1, 4 and 12 sessions.

For each N the script starts a fresh `loquilex serve --port 0` on loopback, reads its VmRSS
(/proc/PID/status) idle (model loaded), starts N concurrent file sessions (the LibriVox clips of
Debian's pocketsphinx-testdata, concatenated, looped, speed 1.0), waits --settle seconds so every
session has recognized audio, and reads VmRSS again. It reports RSS per N and per additional
session ((RSS(N) - RSS(1)) / (N - 1)).

The reference, side by side: bench/shared_lm_probe.cc (built here with g++) creates PocketSphinx
decoders that each load their own language model, as loquilex does, or share one read once
(ngram_model_read once, ps_set_lm per decoder), prints RSS after each decoder, decodes the clips
on all decoders at once and prints the transcripts, which are compared. --helgrind also runs the
shared case under valgrind's helgrind (slow: minutes) and counts the data races it reports in
the language model's scoring. docs/BENCHMARKS.md has the figures and the conclusion.

Needs python3 (stdlib only), sox, g++, the pocketsphinx/sphinxbase development packages and a
built loquilex; valgrind for --helgrind.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_latency as sl  # noqa: E402  (the shared server and audio helpers)

PROBE_SOURCE = Path(__file__).resolve().parent / "shared_lm_probe.cc"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Figures and how to read them: docs/BENCHMARKS.md")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 12],
                        help="session counts to measure (default 1 4 12)")
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds the sessions run before RSS is read (default 8)")
    parser.add_argument("--probe-decoders", type=int, default=4,
                        help="decoders the shared-LM probe creates (default 4; 0 = skip it)")
    parser.add_argument("--helgrind", action="store_true",
                        help="also run the probe's shared case under valgrind --tool=helgrind")
    parser.add_argument("--binary", type=Path, default=sl.REPO_ROOT / "build" / "loquilex",
                        help="loquilex binary (default: build/loquilex in the repository)")
    parser.add_argument("--data-dir", type=Path, default=sl.DEFAULT_DATA_DIR,
                        help=f"folder with the clips and their fileids (default "
                             f"{sl.DEFAULT_DATA_DIR})")
    args = parser.parse_args()
    if 1 not in args.sessions:
        args.sessions = [1, *args.sessions]
    return args


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_server(args: argparse.Namespace, audio: sl.Audio, count: int, workdir: Path) -> tuple:
    """(idle RSS, RSS with `count` sessions running) of a fresh server, in MB."""
    run_dir = workdir / f"serve-{count}"
    run_dir.mkdir()
    server = sl.Server(args.binary, run_dir)
    try:
        idle = rss_mb(server.process.pid)
        sids = []
        for index in range(count):
            body = {"name": f"memory-{index}",
                    "source": {"type": "file", "path": str(audio.path), "speed": 1.0,
                               "loop": True}}
            status, created, _, _ = server.request("POST", "/sessions", body)
            if status != 201:
                sl.die(f"POST /sessions answered {status}: {created}")
            sids.append(created["session_id"])
        time.sleep(args.settle)
        for sid in sids:
            status, info, _, _ = server.request("GET", f"/sessions/{sid}")
            if status != 200 or info.get("status") != "running":
                sl.die(f"session {sid} is not running: {info}")
        loaded = rss_mb(server.process.pid)
    finally:
        server.stop()
    return idle, loaded


def build_probe(workdir: Path) -> Path:
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "pocketsphinx", "sphinxbase"],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        sl.die("pkg-config knows no pocketsphinx/sphinxbase; install Debian's libpocketsphinx-dev")
    binary = workdir / "shared_lm_probe"
    result = subprocess.run(["g++", "-std=c++20", "-O1", "-g", "-o", str(binary),
                             str(PROBE_SOURCE), *flags.stdout.split(), "-pthread"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sl.die(f"cannot build the probe: {result.stderr[-500:]}")
    return binary


def run_probe(probe: Path, mode: str, decoders: int, clips: list) -> tuple:
    """(RSS in MB after each decoder, {(decoder, round/file line): transcript})."""
    result = subprocess.run([str(probe), mode, str(decoders), "1", *map(str, clips)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sl.die(f"shared_lm_probe {mode} failed ({result.returncode}): {result.stderr[-300:]}")
    rss, hyps = [], []
    for line in result.stdout.splitlines():
        if line.startswith("rss_kb decoders"):
            rss.append(int(line.split()[3]) / 1024)
        elif line.startswith("hyp "):
            hyps.append(line)
    return rss, hyps


def helgrind_races(probe: Path, clips: list, workdir: Path) -> tuple:
    """(races reported, of them in sphinxbase's n-gram scoring) for 2 decoders sharing the LM."""
    log = workdir / "helgrind.log"
    subprocess.run(["valgrind", "--tool=helgrind", "--error-limit=no", f"--log-file={log}",
                    str(probe), "shared", "2", "1", *map(str, clips[:2])],
                   capture_output=True, text=True)
    text = log.read_text()
    blocks = text.split("Possible data race")[1:]
    in_lm = [b for b in blocks if re.search(r"lm_trie|ngram_model|ngram_ng_score", b)]
    return len(blocks), len(in_lm)


def main() -> None:
    args = parse_args()
    sl.check_prerequisites(args)
    with tempfile.TemporaryDirectory(prefix="lx-memory-") as tmp:
        workdir = Path(tmp)
        audio = sl.prepare_audio(args.data_dir, workdir, separate=False)[0]
        rows = {}
        for count in sorted(set(args.sessions)):
            rows[count] = measure_server(args, audio, count, workdir)
            print(f"N={count}: idle {rows[count][0]:.0f} MB, with sessions {rows[count][1]:.0f} MB",
                  flush=True)
        print()
        print("| sessions | server RSS idle | server RSS | per additional session |")
        print("| ---: | ---: | ---: | ---: |")
        one = rows[1][1]
        for count, (idle, loaded) in rows.items():
            per = "" if count == 1 else f"{(loaded - one) / (count - 1):.1f} MB"
            print(f"| {count} | {idle:.0f} MB | {loaded:.0f} MB | {per} |")

        if args.probe_decoders < 2:
            return
        clips = sorted(args.data_dir.glob("*.wav"))
        probe = build_probe(workdir)
        own_rss, own_hyps = run_probe(probe, "own", args.probe_decoders, clips)
        shared_rss, shared_hyps = run_probe(probe, "shared", args.probe_decoders, clips)
        n = args.probe_decoders
        print()
        print(f"PocketSphinx decoders alone (bench/shared_lm_probe.cc, {n} decoders, "
              f"{len(clips)} clips on each, all decoders at once):")
        print("| language model | RSS, 1 decoder | RSS, all | per additional decoder |")
        print("| --- | ---: | ---: | ---: |")
        for name, rss in (("one per decoder (loquilex)", own_rss),
                          ("shared, read once", shared_rss)):
            print(f"| {name} | {rss[0]:.0f} MB | {rss[-1]:.0f} MB | "
                  f"{(rss[-1] - rss[0]) / (n - 1):.1f} MB |")
        same = sum(a == b for a, b in zip(own_hyps, shared_hyps))
        print(f"transcripts identical with and without sharing: {same} of {len(own_hyps)}")
        if args.helgrind:
            if shutil.which("valgrind") is None:
                sl.die("valgrind not found; install Debian's valgrind package")
            races, in_lm = helgrind_races(probe, clips, workdir)
            print(f"helgrind, 2 decoders sharing the language model: {races} possible data "
                  f"races, {in_lm} of them in sphinxbase's n-gram scoring")


if __name__ == "__main__":
    main()
