#!/usr/bin/env python3
"""Driver of scripts/drill-cluster.sh: outages played against a running scripts/cluster.sh.

Usage: drill_cluster.py LB_URL CLUSTER_DIR INSTANCES S3_PORT PG_VERSION

1. kill: SIGKILL of instance 2 under load; how long until HAProxy stops sending to it (its
   stats socket polled every 10 ms), and what the clients saw; then the instance is started
   again with its own command line and environment, and rejoins.
2. store: the S3 server is killed for STORE_DOWN seconds (30) while citizens upload; what the
   uploads answered, what /readyz said on every instance, whether reads still worked; then it
   is started again, and every page row must have its object and every object its row.
3. database: PostgreSQL is restarted while citizens read their cases; how fast the failing
   requests failed, how long until the first success, and whether the instances were restarted
   (they must not be); DRILL_SKIP_DATABASE=1 leaves this one out.
Prints one JSON report.
"""
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

LB, DIR, INSTANCES, S3_PORT, PG_VERSION = sys.argv[1:6]
INSTANCES = int(INSTANCES)
LB_PORT = urllib.parse.urlsplit(LB).port
STORE_DOWN = float(os.environ.get("DRILL_STORE_DOWN_SECS", "30"))
ITEM = "real-estate-transfer-resale"
MATERIAL = "sale-contract"  # up to 30 pages
CITIZENS = 6


def request(base, method, path, body=None, headers=None, timeout=30):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict(resp.getheaders()), data
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, str(e).encode()
    finally:
        conn.close()


def api(method, path, token=None, payload=None, base=LB):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    body = json.dumps(payload).encode() if payload is not None else None
    status, hdrs, data = request(base, method, path, body, headers)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return status, hdrs, parsed


def jpeg(seed):
    """A small real JPEG, distinct per seed (Pillow)."""
    import io

    from PIL import Image

    rnd = hashlib.sha256(str(seed).encode()).digest()
    img = Image.new("RGB", (64, 48), tuple(rnd[:3]))
    img.putpixel((1, 1), tuple(rnd[3:6]))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(token, app_id, seed):
    boundary = "drill-boundary"
    data = jpeg(seed)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    headers = {"authorization": "Bearer " + token,
               "content-type": "multipart/form-data; boundary=" + boundary}
    status, hdrs, raw = request(LB, "POST",
                                f"/v1/applications/{app_id}/materials/{MATERIAL}/pages",
                                body, headers)
    code = None
    if raw:
        try:
            code = json.loads(raw).get("code")
        except ValueError:
            pass
    return status, code, hdrs.get("Retry-After") or hdrs.get("retry-after")


def read(token, app_id):
    """One read of a case through the load balancer: (status, problem code)."""
    status, _, body = api("GET", f"/v1/applications/{app_id}", token)
    return status, (body or {}).get("code") if status != 200 else None


def citizens():
    out = []
    for i in range(CITIZENS):
        status, _, pair = api("POST", "/v1/auth/wechat", payload={"code": f"dev:drill-{i}"})
        assert status == 200, (status, pair)
        token = pair["access_token"]
        status, _, app = api("POST", "/v1/applications", token, {
            "matter_code": ITEM,
            "applicant": {"name": "演练", "phone": "13800138000",
                          "id_number": "11010519491231002X"},
        })
        assert status == 201, (status, app)
        out.append((token, app["id"]))
    return out


def haproxy(command):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(DIR, "haproxy.sock"))
    sock.sendall(command.encode() + b"\n")
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks).decode()


def server_status(backend, server):
    for line in haproxy("show stat").splitlines():
        fields = line.split(",")
        if len(fields) > 17 and fields[0] == backend and fields[1] == server:
            return fields[17]
    return None


def instance_pid(n):
    with open(os.path.join(DIR, f"instance-{n}.pid")) as f:
        return int(f.read().strip())


def process_of(pid):
    """(argv, environment, cwd) of a running process, to start it again the same way."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return argv, env, os.readlink(f"/proc/{pid}/cwd")


def start(argv, env, cwd, log):
    out = open(log, "ab")
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=out,
                            start_new_session=True).pid


class Load(threading.Thread):
    """Calls `one()` in a loop until stopped; keeps (start, seconds, status, code) of each."""

    def __init__(self, one):
        super().__init__(daemon=True)
        self.one = one
        self.running = True
        self.seen = []

    def run(self):
        while self.running:
            t0 = time.monotonic()
            status, code = self.one()
            self.seen.append((t0, time.monotonic() - t0, status, code))
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.join()
        return self.seen


def counts(seen, since=None, until=None):
    """Answers by status and code, of the requests answered between `since` and `until`."""
    out = {}
    for t0, seconds, status, code in seen:
        end = t0 + seconds
        if (since is None or end >= since) and (until is None or end <= until):
            key = f"{status} {code}" if code else str(status)
            out[key] = out.get(key, 0) + 1
    return out


def drill_kill(people):
    token, app_id = people[0]
    loads = [Load(lambda: read(token, app_id))
             for _ in range(4)]
    for load in loads:
        load.start()
    time.sleep(1)
    pid = instance_pid(2)
    argv, env, cwd = process_of(pid)
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    out_at = None
    while time.monotonic() - killed < 10:
        if (server_status("instances", "instance-2") or "").startswith("DOWN"):
            out_at = time.monotonic()
            break
        time.sleep(0.01)
    time.sleep(1)
    new_pid = start(argv, env, cwd, os.path.join(DIR, "instance-2.log"))
    with open(os.path.join(DIR, "instance-2.pid"), "w") as f:
        f.write(str(new_pid))
    back_at = None
    while time.monotonic() - killed < 60:
        if server_status("instances", "instance-2") == "UP":
            back_at = time.monotonic()
            break
        time.sleep(0.05)
    time.sleep(1)
    seen = [s for load in loads for s in load.stop()]
    return {
        "out_of_rotation_ms": round((out_at - killed) * 1000) if out_at else None,
        "restarted_and_back_in_rotation_ms": round((back_at - killed) * 1000) if back_at else None,
        "requests": len(seen),
        "answers": counts(seen),
    }


def s3_process():
    with open(os.path.join(DIR, "s3.pid")) as f:
        return int(f.read().strip())


def readyz_all():
    return [request(f"http://127.0.0.1:{LB_PORT + n}", "GET", "/readyz", timeout=10)[0]
            for n in range(1, INSTANCES + 1)]


def drill_store(people):
    seeds = iter(range(10_000, 1_000_000))
    lock = threading.Lock()

    def uploader(token, app_id):
        # A phone's pace, under the per-citizen limit (120 a minute on each instance); a full
        # case makes way for a new one.
        case = [app_id]

        def one():
            with lock:
                seed = next(seeds)
            time.sleep(0.6)
            status, code, retry_after = upload(token, case[0], seed)
            if status == 503 and code == "storage_unavailable" and not retry_after:
                code = "storage_unavailable_without_retry_after"
            if code == "too_many_pages":
                created, _, app = api("POST", "/v1/applications", token, {
                    "matter_code": ITEM,
                    "applicant": {"name": "演练", "phone": "13800138000",
                                  "id_number": "11010519491231002X"},
                })
                if created == 201:
                    case[0] = app["id"]
            return status, code
        return one

    token, app_id = people[0]
    reader = Load(lambda: read(token, app_id))
    uploaders = [Load(uploader(t, a)) for t, a in people[1:4]]
    for load in uploaders + [reader]:
        load.start()
    time.sleep(2)
    pid = s3_process()
    argv, env, cwd = process_of(pid)
    down_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    readyz_during = []
    while time.monotonic() - down_at < STORE_DOWN:
        readyz_during.append(readyz_all())
        time.sleep(1)
    up_at = time.monotonic()
    with open(os.path.join(DIR, "s3.pid"), "w") as f:
        f.write(str(start(argv, env, cwd, os.path.join(DIR, "s3.log"))))
    ready_again = None
    while time.monotonic() - up_at < 60:
        if all(s == 200 for s in readyz_all()):
            ready_again = time.monotonic()
            break
        time.sleep(0.1)
    time.sleep(3)
    seen = [s for load in uploaders for s in load.stop()]
    reads = reader.stop()
    first_ok_after = min((t0 for t0, _, status, _ in seen if status == 201 and t0 > up_at),
                         default=None)
    return {
        "store_down_s": STORE_DOWN,
        "uploads_while_down": counts(seen, down_at + 1, up_at),
        "uploads_before_and_after":
            counts([s for s in seen if not down_at < s[0] + s[1] < up_at]),
        "reads_while_down": counts(reads, down_at + 1, up_at),
        "readyz_while_down_all_503": all(all(s == 503 for s in r) for r in readyz_during[1:]),
        "ready_again_after_ms": round((ready_again - up_at) * 1000) if ready_again else None,
        "first_upload_201_after_ms":
            round((first_ok_after - up_at) * 1000) if first_ok_after else None,
    }


def drill_database(people):
    pids = [instance_pid(n) for n in range(1, INSTANCES + 1)]
    token, app_id = people[0]
    loads = [Load(lambda: read(token, app_id))
             for _ in range(4)]
    for load in loads:
        load.start()
    time.sleep(1)
    t0 = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main",
                    "restart"], check=True)
    restarted = time.monotonic()
    time.sleep(10)
    seen = sorted((s for load in loads for s in load.stop()), key=lambda s: s[0])
    failed = [s for s in seen if s[0] >= t0 and s[2] != 200]
    first_ok = min((s[0] for s in seen if s[0] >= restarted and s[2] == 200), default=None)
    return {
        "restart_took_ms": round((restarted - t0) * 1000),
        "answers_from_restart_on": counts(seen, t0),
        "failed_request_slowest_ms": round(max((s[1] for s in failed), default=0) * 1000),
        "first_200_after_restart_ms": round((first_ok - restarted) * 1000) if first_ok else None,
        "instances_restarted": [p for p in pids if not os.path.exists(f"/proc/{p}")],
    }


def consistency(bucket_dir):
    """Every page row's object is in the bucket, and every object under the drill's cases has
    its row (PostgreSQL read with psql)."""
    db = os.environ["DRILL_DB"]
    rows = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc",
         "select object_key from pages union all select thumbnail_key from pages "
         "where thumbnail_key is not null"],
        capture_output=True, text=True, check=True).stdout.split()
    named = set(rows)
    stored = set()
    root = os.path.join(bucket_dir, "applications")
    for base, _, files in os.walk(root):
        for name in files:
            rel = os.path.relpath(os.path.join(base, name), bucket_dir)
            if not rel.endswith((".tmp", ".part")):
                stored.add(rel)
    return {
        "page_rows_and_thumbnails": len(named),
        "objects": len(stored),
        "rows_without_object": sorted(named - stored)[:5],
        "objects_without_row": sorted(stored - named)[:5],
    }


def main():
    people = citizens()
    for i, (token, app_id) in enumerate(people):
        status, code, _ = upload(token, app_id, i)
        assert status == 201, (status, code)
    report = {"kill": drill_kill(people)}
    report["store"] = drill_store(people)
    if os.environ.get("DRILL_SKIP_DATABASE") != "1":
        report["database"] = drill_database(people)
    # Thumbnails of the last pages may still be in the making.
    time.sleep(5)
    report["consistency"] = consistency(os.environ["DRILL_BUCKET_DIR"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
