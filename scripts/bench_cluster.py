#!/usr/bin/env python3
"""Upload driver of scripts/bench-cluster.sh: CLIENTS citizens upload 1 MiB photos through the
load balancer (path A) for SECONDS, then PUT the same bytes for as long straight to the S3
server through presigned tickets (path B without completion: the store's own limit, in the
same run). Prints one JSON object: pages/s, MiB/s and latency percentiles of each.

Usage: bench_cluster.py LB_URL SECONDS [CLIENTS]
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

from PIL import Image

LB, SECONDS = sys.argv[1], float(sys.argv[2])
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 16
ITEM = "real-estate-transfer-resale"
MATERIAL = "sale-contract"  # up to 30 pages
PAGES = 30


def photo(seed):
    """A real JPEG of about 1 MiB (noise), distinct per seed."""
    w, h = 1200, 900
    img = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    img.putpixel((0, 0), tuple(hashlib.sha256(str(seed).encode()).digest()[:3]))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def request(url, method, body=None, headers=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    path = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def api(method, path, token=None, payload=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    status, data = request(LB + path, method, json.dumps(payload or {}).encode(), headers)
    return status, json.loads(data) if data else None


def draft(token):
    status, app = api("POST", "/v1/applications", token, {
        "matter_code": ITEM,
        "applicant": {"name": "压测", "phone": "13800138000", "id_number": "11010519491231002X"},
    })
    assert status == 201, (status, app)
    return app["id"]


def client(n, photos, direct, stop, results):
    status, pair = api("POST", "/v1/auth/wechat", payload={"code": f"dev:bench-{direct}-{n}"})
    assert status == 200, (status, pair)
    token = pair["access_token"]
    app_id, page = draft(token), 0
    # A case takes 30 pages, and 20 open direct-upload tickets.
    per_case = 20 if direct else PAGES
    while time.monotonic() < stop:
        if page == per_case:
            app_id, page = draft(token), 0
        data = photos[page]
        page += 1
        if direct:
            status, ticket = api("POST", f"/v1/applications/{app_id}/materials/{MATERIAL}/uploads",
                                 token, {"content_type": "image/jpeg", "size": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()})
            assert status == 201, (status, ticket)
            t0 = time.monotonic()
            status, _ = request(ticket["url"], "PUT", data, ticket["headers"])
        else:
            boundary = "bench-boundary"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                    f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + data \
                + f"\r\n--{boundary}--\r\n".encode()
            t0 = time.monotonic()
            status, _ = request(f"{LB}/v1/applications/{app_id}/materials/{MATERIAL}/pages",
                                "POST", body,
                                {"authorization": "Bearer " + token,
                                 "content-type": "multipart/form-data; boundary=" + boundary})
        results.append((time.monotonic() - t0, status, len(data)))


def run(photos, direct):
    results = []
    stop = time.monotonic() + SECONDS
    threads = [threading.Thread(target=client, args=(n, photos, direct, stop, results))
               for n in range(CLIENTS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    ok = sorted(r[0] for r in results if r[1] in (200, 201))
    pct = lambda p: round(ok[min(len(ok) - 1, int(len(ok) * p))] * 1000) if ok else None
    return {
        "pages_per_s": round(len(ok) / took, 1),
        "mib_per_s": round(sum(r[2] for r in results if r[1] in (200, 201)) / took / 2**20, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": len(results) - len(ok),
    }


def main():
    photos = [photo(i) for i in range(PAGES)]
    print(json.dumps({"path_a_through_lb": run(photos, False), "direct_put": run(photos, True)}))


if __name__ == "__main__":
    main()
