#!/usr/bin/env python3
"""Measure how long a served session's finals wait for their translation (mt.final).

The script starts `loquilex serve --port 0` on loopback with a throw-away data folder and plays
each LibriVox clip of Debian's pocketsphinx-testdata as its own file session at speed 1.0, all at
once, with "mt": {"enabled": true, "target": "spa"}. When they have stopped it reads every
translation from the sessions' mt.spa.jsonl (latency_ms: the asr.final's publication to the
mt.final's) and, as the reference, translates the same source texts once each with a cold
`apertium eng-spa` run (what translating a final costs without a warm pipeline), timing each.
It prints, per run and as medians over --runs: finals translated, mt.final latency p50/max (ms),
the cold apertium p50/max (ms) and their ratio, and the asr.final latency p50 from the
sessions' metrics for scale.

Needs python3 (stdlib only), apertium with apertium-eng-spa, and a built loquilex.
"""

import argparse
import http.client
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIPS = sorted(Path("/usr/share/pocketsphinx/test/data/librivox").glob("*.wav"))


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def one_run(binary):
    with tempfile.TemporaryDirectory(prefix="lx_mt_bench_") as tmp:
        server = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", tmp],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
            sids = []
            for clip in CLIPS:
                status, body = request(port, "POST", "/sessions", {
                    "source": {"type": "file", "path": str(clip), "speed": 1},
                    "mt": {"enabled": True, "target": "spa"}})
                if status != 201:
                    raise SystemExit(f"POST /sessions: {status} {body}")
                sids.append(body["session_id"])
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                states = [request(port, "GET", f"/sessions/{sid}")[1]["status"] for sid in sids]
                if all(s in ("stopped", "error") for s in states):
                    break
                time.sleep(0.2)
            asr_p50 = [request(port, "GET", f"/sessions/{sid}/metrics")[1]["asr"]["final_latency"]
                       ["p50"] for sid in sids]
            translations = []
            for sid in sids:
                for line in (Path(tmp) / sid / "mt.spa.jsonl").read_text().splitlines():
                    translations.append(json.loads(line))
        finally:
            server.terminate()
            server.wait(timeout=30)
    cold_ms = []
    for t in translations:
        start = time.monotonic()
        subprocess.run(["apertium", "eng-spa"], input=t["src_text"], text=True,
                       capture_output=True, check=True)
        cold_ms.append((time.monotonic() - start) * 1000)
    warm_ms = [t["latency_ms"] for t in translations]
    return {"finals": len(translations), "mt_p50": percentile(warm_ms, 0.5),
            "mt_max": max(warm_ms), "cold_p50": percentile(cold_ms, 0.5), "cold_max": max(cold_ms),
            "asr_final_p50_s": statistics.median(asr_p50)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument("--binary", default=str(REPO_ROOT / "build" / "loquilex"))
    args = parser.parse_args()
    results = []
    print(f"{len(CLIPS)} concurrent file sessions at speed 1, eng -> spa")
    print("run  finals  mt.final p50/max ms  cold apertium p50/max ms  ratio p50  asr.final p50 s")
    for run in range(1, args.runs + 1):
        r = one_run(args.binary)
        results.append(r)
        print(f"{run:>3}  {r['finals']:>6}  {r['mt_p50']:>8.0f} / {r['mt_max']:<8.0f}  "
              f"{r['cold_p50']:>12.0f} / {r['cold_max']:<9.0f}  {r['cold_p50'] / max(r['mt_p50'], 1):>8.1f}x"
              f"  {r['asr_final_p50_s']:>14.2f}")
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"med  {med['finals']:>6.0f}  {med['mt_p50']:>8.0f} / {med['mt_max']:<8.0f}  "
          f"{med['cold_p50']:>12.0f} / {med['cold_max']:<9.0f}  "
          f"{med['cold_p50'] / max(med['mt_p50'], 1):>8.1f}x  {med['asr_final_p50_s']:>14.2f}")


if __name__ == "__main__":
    main()
