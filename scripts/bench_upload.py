#!/usr/bin/env python3
"""Load driver for scripts/bench-upload.sh: page uploads through the service (path A) against
direct PUTs to the same object store (path B's presigned URL), plus the server's peak RSS with
32 and with 128 concurrent 8 MiB uploads.

Usage: bench_upload.py BASE_URL SERVER_PID [STORE_PID]. Prints a JSON report on stdout, with the
CPU time each phase cost the service (and the S3 server, when its PID is given) per page.
"""
import hashlib
import http.client
import io
import json
import os
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

BASE = sys.argv[1]
PID = int(sys.argv[2])
STORE_PID = int(sys.argv[3]) if len(sys.argv) > 3 else None
TICK = os.sysconf("SC_CLK_TCK")
CLIENTS = 32
MANY_CLIENTS = 128
PAGES_PER_CLIENT = 8
ITEM = "real-estate-transfer-resale"
MATERIAL = "sale-contract"  # takes up to 30 pages of photos


def photo(target_bytes, seed):
    """A real JPEG of about target_bytes (noise compresses to ~0.97 byte/pixel at q=92)."""
    pixels = int(target_bytes / 0.97)
    w = int((pixels * 4 / 3) ** 0.5)
    h = pixels // w
    rnd = hashlib.sha256(str(seed).encode()).digest()
    noise = os.urandom(w * h * 3)
    img = Image.frombytes("RGB", (w, h), noise)
    img.putpixel((0, 0), tuple(rnd[:3]))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def request(method, url, body=None, headers=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    path = parts.path + ("?" + parts.query if parts.query else "")
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def api(method, path, token=None, payload=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    status, data = request(method, BASE + path, json.dumps(payload or {}).encode(), headers)
    return status, json.loads(data) if data else None


def new_application(name):
    status, pair = api("POST", "/v1/auth/wechat", payload={"code": "dev:" + name})
    assert status == 200, (status, pair)
    token = pair["access_token"]
    status, app = api("POST", "/v1/applications", token, {
        "matter_code": ITEM,
        "applicant": {"name": "压测", "phone": "13800138000", "id_number": "11010519491231002X"},
    })
    assert status == 201, (status, app)
    return token, app["id"]


def multipart(data):
    boundary = "beebox-bench-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"page.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, "multipart/form-data; boundary=" + boundary


class RssSampler(threading.Thread):
    """Samples the server's resident set every 20 ms; `peak` is the highest seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.running = True

    def run(self):
        while self.running:
            with open(f"/proc/{PID}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            time.sleep(0.02)


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def timed(jobs):
    """Runs each job on a thread of its own; returns (seconds, per-request latencies, statuses,
    the server's peak RSS)."""
    latencies, statuses = [], []
    lock = threading.Lock()

    def run(job):
        for one in job:
            start = time.perf_counter()
            status = one()
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses.append(status)

    sampler = RssSampler()
    sampler.start()
    cpu = (cpu_seconds(PID), cpu_seconds(STORE_PID))
    start = time.perf_counter()
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(run, jobs))
    seconds = time.perf_counter() - start
    cpu = (cpu_seconds(PID) - cpu[0], cpu_seconds(STORE_PID) - cpu[1])
    sampler.running = False
    sampler.join()
    return seconds, sorted(latencies), statuses, sampler.peak, cpu


def summary(label, size, seconds, latencies, statuses, peak, cpu):
    ok = sum(1 for s in statuses if 200 <= s < 300)
    return {
        "phase": label,
        "requests": len(statuses),
        "ok": ok,
        "failed": len(statuses) - ok,
        "seconds": round(seconds, 2),
        "mib_per_s": round(ok * size / seconds / 2**20, 1),
        "requests_per_s": round(ok / seconds, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000),
        "peak_rss_mib": round(peak / 2**20, 1),
        "service_cpu_ms_per_page": round(cpu[0] * 1000 / max(ok, 1), 2),
        "store_cpu_ms_per_page": round(cpu[1] * 1000 / max(ok, 1), 2) if STORE_PID else None,
    }


def path_a(photos, tag, clients=CLIENTS):
    """Each client uploads its pages, one after another, to its own application."""
    jobs = []
    for c in range(clients):
        token, app = new_application(f"{tag}-{c}")
        url = f"{BASE}/v1/applications/{app}/materials/{MATERIAL}/pages"

        def one(data, token=token, url=url):
            body, ctype = multipart(data)
            return request("POST", url, body, {"authorization": "Bearer " + token,
                                               "content-type": ctype})[0]
        jobs.append([lambda d=d, one=one: one(d) for d in photos])
    return jobs


def direct(photos, tag):
    """Presigned PUTs of the same bytes to the same store (path B without completion)."""
    jobs = []
    for c in range(CLIENTS):
        token, app = new_application(f"{tag}-{c}")
        job = []
        for data in photos:
            status, ticket = api("POST", f"/v1/applications/{app}/materials/{MATERIAL}/uploads",
                                 token, {"content_type": "image/jpeg", "size": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()})
            assert status == 201, (status, ticket)
            job.append(lambda t=ticket, d=data: request("PUT", t["url"], d, t["headers"])[0])
        jobs.append(job)
    return jobs


def main():
    four = [photo(4 * 2**20, i) for i in range(PAGES_PER_CLIENT)]
    eight = [photo(8 * 2**20, 100 + i) for i in range(2)]
    size4 = sum(map(len, four)) / len(four)
    size8 = sum(map(len, eight)) / len(eight)
    report = {"clients": CLIENTS, "pages_per_client": PAGES_PER_CLIENT,
              "photo_4_bytes": int(size4), "photo_8_bytes": int(size8)}
    direct_jobs = direct(four, "direct")
    report["direct_put_4mib"] = summary("direct PUT to the store", size4, *timed(direct_jobs))
    a_jobs = path_a(four, "patha")
    report["path_a_4mib"] = summary("path A through the service", size4, *timed(a_jobs))
    rss_jobs = path_a(eight, "rss8")
    report["path_a_8mib"] = summary("path A, 8 MiB photos", size8, *timed(rss_jobs))
    many_jobs = path_a(eight, "rss128", MANY_CLIENTS)
    report["path_a_8mib_128_clients"] = summary(
        f"path A, 8 MiB photos, {MANY_CLIENTS} clients", size8, *timed(many_jobs))
    report["ratio_path_a_to_direct"] = round(
        report["path_a_4mib"]["mib_per_s"] / report["direct_put_4mib"]["mib_per_s"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
