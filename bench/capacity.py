#!/usr/bin/env python3
"""How many concurrent real-time file sessions `loquilex serve` sustains on this machine.

The script starts `loquilex serve --port 0` on loopback and ramps N = 1, 2, 3, ... concurrent
file sessions, each playing the LibriVox clips of Debian's pocketsphinx-testdata (their
concatenation with 2 s of silence between, looped, speed 1.0) for --seconds, with one WebSocket
viewer per session. Per N it reports, as the viewers received them:

  p50/p95 utterance end -> final   the asr.final's receipt minus the end of its last word in the
                                   audio (audio time 0 = the receipt of the POST /sessions answer,
                                   as bench/serve_latency.py anchors it), over all sessions' finals
  overload / dropped audio         session.overload events and the sessions' dropped_audio_s
  server CPU                       CPU seconds of the server per wall second (of 2 cores: 2.0)
  waiting for a CPU                seconds per wall second the server's threads were runnable
                                   but had no CPU (/proc/PID/task/*/schedstat): other load

N is sustained when p95 < 1 s and no audio was dropped. The ramp stops at the first N that fails
(--max-sessions at most). Beside the result, the limit the recognizer's CPU cost implies:
cores / (CPU seconds per audio second of `loquilex transcribe` on the same audio, measured
in the same run; the reference tool: one stream, as fast as it can go).

Needs python3 (stdlib only; reuses bench/serve_latency.py's server, WebSocket client and
audio preparation), sox and a built loquilex. Figures: docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_latency as sl  # noqa: E402  (the shared server, client and audio helpers)

P95_LIMIT_S = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Figures and how to read them: docs/BENCHMARKS.md")
    parser.add_argument("--seconds", type=float, default=40.0,
                        help="how long each N runs (default 40)")
    parser.add_argument("--max-sessions", type=int, default=16,
                        help="largest N tried (default 16)")
    parser.add_argument("--start", type=int, default=1, help="first N (default 1)")
    parser.add_argument("--binary", type=Path, default=sl.REPO_ROOT / "build" / "loquilex",
                        help="loquilex binary (default: build/loquilex in the repository)")
    parser.add_argument("--data-dir", type=Path, default=sl.DEFAULT_DATA_DIR,
                        help=f"folder with the clips and their fileids (default "
                             f"{sl.DEFAULT_DATA_DIR})")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    if args.seconds < 5 or args.max_sessions < 1 or args.start < 1:
        parser.error("--seconds must be at least 5, --max-sessions and --start at least 1")
    return args


@dataclass
class Viewer:
    """One session and its viewer thread's findings."""
    sid: str = ""
    anchor: float = 0.0  # monotonic receipt of the POST /sessions answer = audio time 0
    final_latencies: list = field(default_factory=list)  # s
    overloads: list = field(default_factory=list)  # session.overload data, in order
    error: str = ""


def watch(server: sl.Server, viewer: Viewer, ws_url: str, until: float) -> None:
    """Receives the session's events until `until` (monotonic), recording final latencies."""
    try:
        ws = sl.WebSocket(ws_url)
    except (OSError, ConnectionError) as e:
        viewer.error = f"cannot watch {viewer.sid}: {e}"
        return
    try:
        while time.monotonic() < until:
            got = ws.receive()
            if got is None:
                viewer.error = f"{viewer.sid}: the server closed the viewer"
                return
            received, text = got
            envelope = json.loads(text)
            data = envelope["data"]
            if envelope["t"] == "asr.final" and received < until:
                viewer.final_latencies.append(received - (viewer.anchor + data["t1"]))
            elif envelope["t"] == "session.overload":
                viewer.overloads.append(data)
    except (OSError, ConnectionError) as e:
        viewer.error = f"{viewer.sid}: {e}"
    finally:
        ws.close()


def run_level(server: sl.Server, audio: sl.Audio, count: int, seconds: float) -> dict:
    """`count` looping sessions for `seconds`; their latencies, overloads, drops and CPU."""
    viewers, threads = [], []
    sched_before = server.threads()
    cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
    until = wall_before + seconds
    for index in range(count):
        body = {"name": f"capacity-{count}-{index}",
                "source": {"type": "file", "path": str(audio.path), "speed": 1.0, "loop": True}}
        status, created, _, answered = server.request("POST", "/sessions", body)
        if status != 201:
            sl.die(f"POST /sessions answered {status}: {created}")
        viewer = Viewer(sid=created["session_id"], anchor=answered)
        thread = threading.Thread(target=watch, args=(server, viewer, created["ws_url"], until))
        thread.start()
        viewers.append(viewer)
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=seconds + sl.SESSION_TIMEOUT_S)
    cpu_s = server.cpu_seconds() - cpu_before
    wall_s = time.monotonic() - wall_before
    # Time the server's threads were runnable but had no CPU: the machine's other load.
    waited_ns = sum(wait - sched_before.get(tid, (0, 0))[1]
                    for tid, (_, wait) in server.threads().items())
    metrics = []
    for viewer in viewers:
        status, answer, _, _ = server.request("GET", f"/sessions/{viewer.sid}/metrics")
        if status == 200:
            metrics.append(answer)
        server.request("DELETE", f"/sessions/{viewer.sid}")
    errors = [v.error for v in viewers if v.error]
    if errors:
        sl.die("; ".join(errors))
    latencies = [x for v in viewers for x in v.final_latencies]
    dropped = sum(m["overload"]["dropped_audio_s"] for m in metrics)
    p95 = sl.quantile(latencies, 0.95)
    return {
        "sessions": count,
        "finals": len(latencies),
        "p50_s": sl.quantile(latencies, 0.5),
        "p95_s": p95,
        "max_s": max(latencies) if latencies else float("nan"),
        "overload_events": sum(len(v.overloads) for v in viewers),
        "max_lag_s": max((m["overload"]["max_lag_s"] for m in metrics), default=0.0),
        "dropped_audio_s": dropped,
        "audio_s": sum(m["audio_seconds"] for m in metrics),
        "rtf_median": statistics.median(m["real_time_factor"] for m in metrics),
        "server_cpu_per_s": cpu_s / wall_s,
        "cpu_wait_per_s": waited_ns / 1e9 / wall_s,
        "sustained": bool(latencies) and p95 < P95_LIMIT_S and dropped == 0,
    }


def transcribe_cpu_per_audio_s(binary: Path, audio: sl.Audio, workdir: Path) -> float:
    """CPU seconds per audio second of `loquilex transcribe` (one stream, as fast as it can)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([str(binary), "transcribe", str(audio.path), "--quiet", "--format",
                             "txt", str(workdir / "reference.txt")], capture_output=True, text=True,
                            env={**os.environ, "XDG_CACHE_HOME": str(workdir / "cache")})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sl.die(f"loquilex transcribe failed: {result.stderr.strip()[-300:]}")
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu_s / audio.seconds


def render(levels: list, cpu_per_audio_s: float, cores: int, load: tuple) -> str:
    lines = ["| N | finals | p50 utt end -> final | p95 | max | overload events | max lag | "
             "dropped audio | median RTF | server CPU (cores) | waiting for a CPU | sustained |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in levels:
        lines.append(f"| {r['sessions']} | {r['finals']} | {sl.ms(r['p50_s'])} | "
                     f"{sl.ms(r['p95_s'])} | {sl.ms(r['max_s'])} | {r['overload_events']} | "
                     f"{r['max_lag_s']:.1f} s | {r['dropped_audio_s']:.1f} s | "
                     f"{r['rtf_median']:.3f} | {r['server_cpu_per_s']:.2f} | "
                     f"{r['cpu_wait_per_s']:.2f} | "
                     f"{'yes' if r['sustained'] else 'no'} |")
    sustained = [r["sessions"] for r in levels if r["sustained"]]
    best = max(sustained) if sustained else 0
    implied = cores / cpu_per_audio_s
    lines += ["",
              f"capacity: {best} concurrent real-time sessions (p95 utterance end -> final "
              f"< {P95_LIMIT_S:g} s, no audio dropped)",
              f"CPU-implied limit: {cores} cores / {cpu_per_audio_s:.3f} CPU s per audio s "
              f"(loquilex transcribe) = {implied:.1f} sessions; measured / implied = "
              f"{best / implied:.2f}",
              f"load average when it started: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"(other work on the machine shares the cores)"]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    sl.check_prerequisites(args)
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="lx-capacity-") as tmp:
        workdir = Path(tmp)
        audio = sl.prepare_audio(args.data_dir, workdir, separate=False)[0]
        cpu_per_audio_s = transcribe_cpu_per_audio_s(args.binary, audio, workdir)
        print(f"reference: loquilex transcribe uses {cpu_per_audio_s:.3f} CPU s per audio s "
              f"({audio.seconds:.1f} s of audio)", flush=True)
        server = sl.Server(args.binary, workdir)
        levels = []
        try:
            for count in range(args.start, args.max_sessions + 1):
                level = run_level(server, audio, count, args.seconds)
                levels.append(level)
                print(f"N={count}: p95 {sl.ms(level['p95_s'])} ms over {level['finals']} finals, "
                      f"dropped {level['dropped_audio_s']:.1f} s, server CPU "
                      f"{level['server_cpu_per_s']:.2f} cores", flush=True)
                if not level["sustained"]:
                    break
        finally:
            server.stop()
        print()
        print(render(levels, cpu_per_audio_s, cores, load))
        if args.json:
            args.json.write_text(json.dumps({"levels": levels, "cpu_per_audio_s": cpu_per_audio_s,
                                             "cores": cores, "load": load}, indent=2))


if __name__ == "__main__":
    main()
