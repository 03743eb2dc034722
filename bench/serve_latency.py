#!/usr/bin/env python3
"""Measure the caption latency of a live `loquilex serve` session as a WebSocket viewer sees it.

The script starts `loquilex serve --port 0` on loopback with a throw-away data folder, plays the
LibriVox clips of Debian's pocketsphinx-testdata through a file session at speed 1.0 (by default
their concatenation with 2 s of silence between clips; --clips plays each clip as its own
session), and records the receive time (time.monotonic) of every WebSocket message. With audio
time 0 anchored at the start of the session's worker, it reports, as received by the client:

  word -> first partial   for each word of each final: the first asr.partial of the same
                          segment showing that word at its position, minus the end of the word
                          in the audio (the final itself when no partial showed it)
  utterance end -> final  the asr.final minus the end of its last word in the audio

with p50/p95/max over all words or finals of a run, the medians of those over --runs, and the
session's own latency metrics (GET /sessions/{sid}/metrics) for comparison. Both are also given
with the lag removed that the file pacer writes off when the worker falls behind, and with
checks of the time-0 anchor, delivery times and the server's CPU.

Needs python3 (stdlib only: the WebSocket client is written here), sox and a built loquilex.
See docs/BENCHMARKS.md for recorded figures and how to read them.
"""

import argparse
import base64
import hashlib
import http.client
import json
import math
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
GAP_S = 2.0  # silence between clips in the concatenation
CHUNK_S = 0.1  # a file session reads and recognizes 100 ms at a time; one vu event per chunk
SESSION_TIMEOUT_S = 30.0  # longest wait for any WebSocket message (heartbeats keep coming)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Figures and how to read them: docs/BENCHMARKS.md",
    )
    parser.add_argument("--runs", type=int, default=3,
                        help="sessions per audio file; medians over runs are reported (default 3)")
    parser.add_argument(
        "--binary",
        type=Path,
        default=REPO_ROOT / "build" / "loquilex",
        help="loquilex binary (default: build/loquilex in the repository)",
    )
    parser.add_argument(
        "--clips",
        action="store_true",
        help="play each clip as its own session instead of their concatenation with "
             f"{GAP_S:g} s of silence between",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder with the clips and their fileids (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def die(message: str) -> None:
    print(f"serve_latency: {message}", file=sys.stderr)
    sys.exit(1)


def check_prerequisites(args: argparse.Namespace) -> None:
    if not (args.binary.is_file() and os.access(args.binary, os.X_OK)):
        die(f"{args.binary} is not an executable; build it with `make build` or pass --binary")
    if shutil.which("sox") is None:
        die("sox not found; install Debian's sox package (make setup)")
    if not (args.data_dir / "fileids").is_file():
        die(f"{args.data_dir / 'fileids'} is missing; install Debian's pocketsphinx-testdata")


# --- audio ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audio:
    name: str
    path: Path
    seconds: float


def audio_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def sox(*argv) -> None:
    result = subprocess.run(["sox", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        die(f"sox {' '.join(argv)} failed: {result.stderr.strip()}")


def prepare_audio(data_dir: Path, workdir: Path, separate: bool) -> list:
    """The clips, or their concatenation with GAP_S of silence between (16 kHz mono 16-bit)."""
    ids = [line.strip() for line in (data_dir / "fileids").read_text().splitlines() if line.strip()]
    clips = []
    for utt_id in ids:
        path = data_dir / f"{utt_id}.wav"
        if not path.is_file():
            die(f"{path} is missing")
        clips.append(Audio(utt_id, path, audio_seconds(path)))
    if separate:
        return clips
    wav_format = ("-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer")
    gap = workdir / "gap.wav"
    sox("-D", "-n", *wav_format, str(gap), "trim", "0", str(GAP_S))
    parts = [str(p) for c in clips for p in (c.path, gap)][:-1]
    concat = workdir / "concatenation.wav"
    sox("-D", *parts, *wav_format, str(concat))
    return [Audio("concatenation", concat, audio_seconds(concat))]


# --- server --------------------------------------------------------------------------------------


class Server:
    """`loquilex serve --port 0` on loopback; its log goes to a file in the work folder."""

    def __init__(self, binary: Path, workdir: Path, extra_args: tuple = ()):
        self.log_path = workdir / "serve.log"
        data_dir = workdir / "data"
        data_dir.mkdir()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "serve", "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(data_dir), *extra_args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            self.stop()
            die(f"loquilex serve printed no URL: {self.log_path.read_text().strip()[-500:]}")
        parsed = urllib.parse.urlsplit(line)
        self.host, self.port = parsed.hostname, parsed.port

    def cpu_seconds(self) -> float:
        """user+sys CPU of the server so far, exited threads included (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> dict:
        """Thread id -> (ns on a CPU, ns runnable but waiting), from /proc/PID/task/*/schedstat."""
        out = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                run_ns, wait_ns, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue  # the thread just exited
            out[int(task.name)] = (int(run_ns), int(wait_ns))
        return out

    def request(self, method: str, path: str, body=None) -> tuple:
        """(status, JSON answer, monotonic time the request went out, time the answer was read)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=SESSION_TIMEOUT_S)
        try:
            conn.connect()
            payload = None if body is None else json.dumps(body).encode()
            headers = {} if body is None else {"Content-Type": "application/json"}
            sent = time.monotonic()
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            text = response.read()
            answered = time.monotonic()
            return response.status, json.loads(text), sent, answered
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


# --- a minimal RFC 6455 client -------------------------------------------------------------------


class WebSocket:
    """Text frames in, masked control frames out; enough to watch a loquilex session."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "ws":
            die(f"cannot open {url}: only ws:// is supported")
        self.sock = socket.create_connection((parsed.hostname, parsed.port or 80),
                                             timeout=SESSION_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.last_recv = 0.0  # monotonic time of the recv that brought the newest bytes
        key = base64.b64encode(os.urandom(16)).decode()
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)  # frames that came with the handshake answer
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if lines[0].split()[1:2] != ["101"] or headers.get("sec-websocket-accept") != expected:
            die(f"WebSocket handshake with {url} failed: {lines[0]}")

    def _fill(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.last_recv = time.monotonic()
        self.buffer += data

    def _take(self, count: int) -> bytes:
        # Bytes are only read when the frame being parsed needs them, so everything still in the
        # buffer came with the newest recv: last_recv is when a frame's last byte arrived.
        while len(self.buffer) < count:
            self._fill()
        out = bytes(self.buffer[:count])
        del self.buffer[:count]
        return out

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)  # client-to-server frames must be masked
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self):
        """(receive time, text) of the next text message; None when the server closes."""
        fragments = []
        while True:
            b0, b1 = self._take(2)
            fin, opcode, length = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._take(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._take(8))
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode in (0x1, 0x0):  # text, or a continuation of one
                fragments.append(payload)
                if fin:
                    return self.last_recv, b"".join(fragments).decode()
            elif opcode == 0x9:  # ping
                self._send(0xA, payload)
            elif opcode == 0x8:  # close: answer with the same code
                self._send(0x8, payload[:2])
                return None
            # binary frames and pongs are ignored

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


# --- one session ---------------------------------------------------------------------------------


@dataclass
class SessionRecord:
    audio: Audio
    post_sent: float  # monotonic, just before POST /sessions went out
    post_answered: float  # monotonic, when its answer had been read
    messages: list  # (receive time, envelope) in order of arrival
    metrics: dict  # GET /sessions/{sid}/metrics after the session stopped
    server_cpu_s: float  # CPU of the whole server process while the session ran
    worker_run_s: float  # the session's own threads: time on a CPU...
    worker_wait_s: float  # ...and time runnable but waiting for one (schedstat)


def run_session(server: Server, audio: Audio) -> SessionRecord:
    body = {"name": f"bench-{audio.name}",
            "source": {"type": "file", "path": str(audio.path), "speed": 1.0}}
    old_threads = set(server.threads())
    new_threads = {}  # thread started for this session -> its last schedstat sample
    cpu_before = server.cpu_seconds()
    status, created, sent, answered = server.request("POST", "/sessions", body)
    if status != 201:
        die(f"POST /sessions answered {status}: {created}")
    ws = WebSocket(created["ws_url"])
    messages = []
    next_sample = 0.0
    try:
        while True:
            got = ws.receive()
            if got is None:
                break
            received, text = got
            envelope = json.loads(text)
            messages.append((received, envelope))
            # Sample the worker's schedstat about once a second (it is gone once it exits), and
            # at the stopping status, just before it exits.
            if received >= next_sample or envelope["t"] == "status":
                new_threads.update({tid: v for tid, v in server.threads().items()
                                    if tid not in old_threads})
                next_sample = received + 1.0
            if envelope["t"] == "status" and envelope["data"]["state"] in ("stopped", "error"):
                break
    finally:
        ws.close()
    last = messages[-1][1] if messages else {}
    if last.get("t") != "status" or last["data"]["state"] != "stopped":
        die(f"session {created['session_id']} did not stop normally: {last}")
    cpu_s = server.cpu_seconds() - cpu_before
    status, metrics, _, _ = server.request("GET", f"/sessions/{created['session_id']}/metrics")
    if status != 200:
        die(f"GET metrics answered {status}: {metrics}")
    return SessionRecord(audio, sent, answered, messages, metrics, cpu_s,
                         sum(v[0] for v in new_threads.values()) / 1e9,
                         sum(v[1] for v in new_threads.values()) / 1e9)


# --- analysis ------------------------------------------------------------------------------------


def quantile(values: list, q: float) -> float:
    """Nearest rank, as the server computes its own latency quantiles."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Analysis:
    audio_s: float
    silence_ms: int = 0
    anchor: str = ""  # what audio time 0 is
    post_sent_offset: float = 0.0  # POST sent - anchor (s): the worker cannot have started earlier
    vu_missed: int = 0  # vu events published before the viewer attached
    vu_offsets: list = field(default_factory=list)  # recv(vu k) - (anchor + (k+1) x 100 ms), s
    pacer_shift_end: float = 0.0  # s the file pacer's schedule moved back by the end
    delivery: list = field(default_factory=list)  # recv - envelope t_mono_ns, s (same clock)
    word: list = field(default_factory=list)  # s, one per word of every final, as played
    word_shown_by_partial: list = field(default_factory=list)  # the same, words a partial showed
    word_rebased: list = field(default_factory=list)  # s, against the pacer's moved schedule
    word_shown_by_partial_rebased: list = field(default_factory=list)
    word_audio_ahead: list = field(default_factory=list)  # s: that partial's t_audio_end - t1
    final: list = field(default_factory=list)  # s, one per final, as played
    final_rebased: list = field(default_factory=list)
    finals_by_reason: dict = field(default_factory=dict)
    server: dict = field(default_factory=dict)  # the session's own asr metrics
    real_time_factor: float = 0.0  # the session's: wall time recognizing / audio time
    server_cpu_s: float = 0.0
    worker_run_s: float = 0.0
    worker_wait_s: float = 0.0


def pacer_shifts(vu_offsets: list) -> list:
    """Per 100 ms chunk: how far (s) the file pacer had moved its schedule back when it let the
    chunk through.

    The pacer releases chunk k at anchor + shift_k + (k+1) x 100 ms, and moves its schedule back
    (shift grows, never shrinks) whenever the worker falls more than 200 ms behind, so a slow
    moment never turns into a burst. vu event k comes out right after chunk k was recognized,
    so recv(vu j) - (anchor + (j+1) x 100 ms) >= shift_j + work_j >= shift_k + work_j for all
    j >= k: the minimum over the later events bounds shift_k, and is tight as soon as some later
    chunk was recognized promptly. The smallest offset of all (the fastest chunk's work and
    delivery, a few ms) is taken off so that an unmoved schedule reads 0.
    """
    if not vu_offsets:
        return []
    shifts, running = [], float("inf")
    for offset in reversed(vu_offsets):
        running = min(running, offset)
        shifts.append(running)
    shifts.reverse()
    base = shifts[0]
    return [v - base for v in shifts]


def analyse(record: SessionRecord) -> Analysis:
    result = Analysis(record.audio.seconds)
    messages = record.messages
    welcome = next(env for _, env in messages if env["t"] == "session.welcome")
    snapshot = welcome["data"]["snapshot"]
    result.silence_ms = snapshot["config"]["asr"]["silence_ms"]

    # Audio time 0: the worker publishes "running" and starts the file pacer's clock right
    # after. POST /sessions starts the worker before it answers, so a viewer (which can only
    # connect after the answer) normally misses that event; then the answer's arrival is the
    # anchor: an upper bound of the true start, the POST's departure being a lower bound.
    running = [t for t, env in messages
               if env["t"] == "status" and env["data"]["state"] == "running"]
    if running:
        anchor, result.anchor = running[0], "receipt of the running status"
    else:
        anchor, result.anchor = record.post_answered, "receipt of the POST /sessions answer"
    result.post_sent_offset = record.post_sent - anchor

    # Cross-check and pacer schedule: vu event k follows the chunk that ends at (k+1) x 100 ms
    # of audio. Events before the viewer attached are counted from the welcome's seq (every
    # message of the session is numbered from 1; the first was "running"), valid while no
    # caption came before it.
    if snapshot.get("live_partial") is None and not snapshot.get("recent_finals"):
        result.vu_missed = max(0, welcome["seq"] - 1)
        vu_index = result.vu_missed
        for received, env in messages:
            if env["t"] == "vu":
                result.vu_offsets.append(received - (anchor + (vu_index + 1) * CHUNK_S))
                vu_index += 1
    shifts = [0.0] * result.vu_missed + pacer_shifts(result.vu_offsets)
    result.pacer_shift_end = shifts[-1] if shifts else 0.0

    def shift_at(audio_time: float) -> float:
        if not shifts:
            return 0.0
        chunk = max(0, math.ceil(audio_time / CHUNK_S - 1e-9) - 1)
        return shifts[min(chunk, len(shifts) - 1)]

    # The server stamps envelopes with its steady clock, CLOCK_MONOTONIC as is time.monotonic().
    result.delivery = [received - env["t_mono_ns"] / 1e9
                       for received, env in messages if "t_mono_ns" in env]

    partials = {}  # segment_id -> [(receive time, words)]
    for received, env in messages:
        data = env["data"]
        if env["t"] == "asr.partial":
            partials.setdefault(data["segment_id"], []).append(
                (received, data["t_audio_end"], data["text"].split()))
        elif env["t"] == "asr.final":
            seen = partials.get(data["segment_id"], [])
            for index, word in enumerate(data["words"]):
                shown = next(((t, end) for t, end, words in seen
                              if len(words) > index and words[index] == word["w"]), None)
                latency = (received if shown is None else shown[0]) - (anchor + word["t1"])
                rebased = latency - shift_at(word["t1"])
                result.word.append(latency)
                result.word_rebased.append(rebased)
                if shown is not None:
                    result.word_shown_by_partial.append(latency)
                    result.word_shown_by_partial_rebased.append(rebased)
                    result.word_audio_ahead.append(shown[1] - word["t1"])
            latency = received - (anchor + data["t1"])
            result.final.append(latency)
            result.final_rebased.append(latency - shift_at(data["t1"]))
            reason = data["eou_reason"]
            result.finals_by_reason[reason] = result.finals_by_reason.get(reason, 0) + 1
    result.server = record.metrics["asr"]
    result.real_time_factor = record.metrics["real_time_factor"]
    result.server_cpu_s = record.server_cpu_s
    result.worker_run_s = record.worker_run_s
    result.worker_wait_s = record.worker_wait_s
    return result


# --- report --------------------------------------------------------------------------------------

LATENCIES = ("word", "word_shown_by_partial", "final", "word_rebased",
             "word_shown_by_partial_rebased", "final_rebased", "word_audio_ahead", "vu_offsets",
             "delivery")


def summarize_run(analyses: list) -> dict:
    """One run: percentiles over all its words and finals (its sessions pooled), and totals."""
    audio_s = sum(a.audio_s for a in analyses)
    out = {
        "audio_s": audio_s,
        "post_sent_offset": statistics.median(a.post_sent_offset for a in analyses),
        "vu_missed": max(a.vu_missed for a in analyses),
        "vu_first": statistics.median(a.vu_offsets[0] for a in analyses if a.vu_offsets),
        "pacer_shift_end": max(a.pacer_shift_end for a in analyses),
        "server_cpu_per_audio_s": sum(a.server_cpu_s for a in analyses) / audio_s,
        "worker_cpu_per_audio_s": sum(a.worker_run_s for a in analyses) / audio_s,
        "worker_wait_per_audio_s": sum(a.worker_wait_s for a in analyses) / audio_s,
        "real_time_factor": statistics.median(a.real_time_factor for a in analyses),
        "finals_by_reason": {},
    }
    for a in analyses:
        for reason, count in a.finals_by_reason.items():
            out["finals_by_reason"][reason] = out["finals_by_reason"].get(reason, 0) + count
    for key in LATENCIES:
        values = [v for a in analyses for v in getattr(a, key)]
        out[key] = {"count": len(values), "p50": quantile(values, 0.50),
                    "p95": quantile(values, 0.95),
                    "min": min(values) if values else float("nan"),
                    "max": max(values) if values else float("nan")}
    for kind in ("partial_latency", "final_latency"):
        out[f"server_{kind}"] = {
            q: statistics.median(a.server[kind][q] for a in analyses)
            for q in ("p50", "p95", "max")}
        out[f"server_{kind}"]["count"] = sum(a.server[kind]["count"] for a in analyses)
    return out


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}"


def render(summaries: list, audio: list, silence_ms: set, anchors: set) -> str:
    med = statistics.median

    def m(key: str, q: str = "") -> float:
        return med(s[key][q] if q else s[key] for s in summaries)

    def spread(key: str) -> str:
        values = [s[key]["p50"] for s in summaries]
        return f"{ms(min(values))}-{ms(max(values))}"

    def row(label: str, key: str, unit: str) -> list:
        count = summaries[0][key]["count"]
        return [label, ms(m(key, "p50")), ms(m(key, "p95")), ms(m(key, "max")),
                f"{count:g} {unit}", spread(key)]

    table = [
        row("word -> first partial", "word", "words"),
        row("  words a partial showed", "word_shown_by_partial", "words"),
        row("utterance end -> final", "final", "finals"),
        row("word -> first partial, pacer lag removed", "word_rebased", "words"),
        row("  words a partial showed", "word_shown_by_partial_rebased", "words"),
        row("utterance end -> final, pacer lag removed", "final_rebased", "finals"),
        row("server: asr.partial_latency", "server_partial_latency", "partials"),
        row("server: asr.final_latency", "server_final_latency", "finals"),
    ]
    headers = ["latency, ms", "p50", "p95", "max", "count (run 1)", "p50 min-max"]
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]

    def line(cells: list) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    sessions = "1 session" if len(audio) == 1 else f"{len(audio)} sessions"
    reasons = ", ".join(f"{k} {v}" for k, v in summaries[0]["finals_by_reason"].items())
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in table]
    out += [
        "",
        f"Medians over {len(summaries)} run(s) of each run's p50/p95/max; a run is {sessions} "
        f"({summaries[0]['audio_s']:.1f} s of audio), its words and finals pooled. Server rows: "
        "GET /sessions/{sid}/metrics, median over the run's sessions, then over runs.",
        "Words a partial showed: audio after the word's end that partial covered "
        f"(t_audio_end - t1): p50 {ms(m('word_audio_ahead', 'p50'))}, p95 "
        f"{ms(m('word_audio_ahead', 'p95'))} ms; the other words wait for their final. "
        "A partial can show a word before its end in the final's alignment: negative values.",
        f"Finals by eou_reason (run 1): {reasons}. silence_ms in force: "
        f"{', '.join(str(v) for v in sorted(silence_ms))} ms: a final is due only after that "
        "much silence has followed the last word, so 'utterance end -> final' includes that "
        "wait by design.",
        "",
        f"Audio time 0 = {' / '.join(sorted(anchors))}. Checks (ms, medians over runs):",
        f"  POST /sessions went out {ms(-m('post_sent_offset'))} before it (median over "
        "sessions; the worker started in between)",
        f"  vu event k received - (time 0 + (k+1) x 100 ms): first event {ms(m('vu_first'))}, "
        f"min {ms(m('vu_offsets', 'min'))}, p50 {ms(m('vu_offsets', 'p50'))}, max "
        f"{ms(m('vu_offsets', 'max'))} ({summaries[0]['vu_missed']} vu events before the viewer "
        "attached). No chunk is released early, so the true start is at most min after time 0.",
        f"  file pacer's schedule moved back by the end (worker fell > 200 ms behind): "
        f"{ms(m('pacer_shift_end'))} [{ms(min(s['pacer_shift_end'] for s in summaries))}-"
        f"{ms(max(s['pacer_shift_end'] for s in summaries))}]; 'pacer lag removed' rows "
        "measure from when the pacer let the audio through",
        f"  delivery, receive time - envelope t_mono_ns: p50 {1000 * m('delivery', 'p50'):.2f}, "
        f"p95 {1000 * m('delivery', 'p95'):.2f}, max {1000 * m('delivery', 'max'):.2f}",
        "CPU per audio second (medians over runs): server process "
        f"{m('server_cpu_per_audio_s'):.3f}; session worker on a CPU "
        f"{m('worker_cpu_per_audio_s'):.3f}, runnable but waiting for a CPU "
        f"{m('worker_wait_per_audio_s'):.3f} (schedstat); the session's real_time_factor "
        f"(wall time recognizing / audio) {m('real_time_factor'):.3f}",
    ]
    return "\n".join(out)


def main() -> None:
    args = parse_args()
    check_prerequisites(args)
    runs = []
    records = []
    with tempfile.TemporaryDirectory(prefix="lx-serve-bench-") as tmp:
        workdir = Path(tmp)
        audio = prepare_audio(args.data_dir, workdir, args.clips)
        server = Server(args.binary, workdir)
        try:
            print(f"Server: {args.binary} serve --port 0 on http://{server.host}:{server.port}; "
                  f"{len(audio)} file session(s) per run at speed 1.0, {args.runs} run(s) "
                  f"(~{args.runs * sum(a.seconds for a in audio):.0f} s)", flush=True)
            for run in range(args.runs):
                analyses = []
                for item in audio:
                    print(f"\r  run {run + 1}/{args.runs}: {item.name:45s}", end="",
                          file=sys.stderr, flush=True)
                    record = run_session(server, item)
                    records.append((run, record))
                    analyses.append(analyse(record))
                runs.append(analyses)
            print(file=sys.stderr)
        finally:
            server.stop()
    silence_ms = {a.silence_ms for r in runs for a in r}
    anchors = {a.anchor for r in runs for a in r}
    summaries = [summarize_run(r) for r in runs]
    print()
    print(render(summaries, audio, silence_ms, anchors))
    if args.json:
        args.json.write_text(json.dumps({
            "runs": args.runs,
            "audio": {a.name: a.seconds for a in audio},
            "summary": summaries,
            "sessions": [{"run": run, "audio": rec.audio.name, "post_sent": rec.post_sent,
                          "post_answered": rec.post_answered,
                          "messages": [[t, env] for t, env in rec.messages],
                          "metrics": rec.metrics, "server_cpu_s": rec.server_cpu_s,
                          "worker_run_s": rec.worker_run_s, "worker_wait_s": rec.worker_wait_s}
                         for run, rec in records],
        }, indent=1))


if __name__ == "__main__":
    main()
