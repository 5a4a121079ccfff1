"""Seeds a running dev service for scripts/bench-console.sh: a reviewer, and CASES submitted cases
of the social security card item, each with two 1.5 MB ID card photos and an ID photo, then waits
until every page has its thumbnail. Prints the reviewer's username."""

import hashlib
import io
import json
import os
import sys
import time
import urllib.request

from PIL import Image

BASE, ADMIN, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
CASES = int(os.environ.get("BENCH_CASES", "20"))
ITEM = "social-security-card-replacement"
DEPARTMENT = "human-resources-social-security"


def call(method, path, token=None, payload=None, body=None, content_type="application/json"):
    data = body if body is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", content_type)
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=120) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def photo(seed, target=1_500_000):
    """A real JPEG of about `target` bytes: noise with a gradient, like a phone photo's size."""
    pixels = int(target / 0.97)
    w = int((pixels * 4 / 3) ** 0.5)
    h = pixels // w
    img = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    img.putpixel((0, 0), tuple(hashlib.sha256(str(seed).encode()).digest()[:3]))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def upload(token, app_id, material, data):
    boundary = "beebox-bench"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    call("POST", f"/v1/applications/{app_id}/materials/{material}/pages", token, body=body,
         content_type="multipart/form-data; boundary=" + boundary)


admin = call("POST", "/v1/staff/login", payload={"username": ADMIN, "password": PASSWORD})["access_token"]
call("POST", "/v1/admin/staff", admin, {
    "username": "bench.reviewer", "display_name": "压测预审员", "password": PASSWORD,
    "roles": ["reviewer"], "departments": [DEPARTMENT],
})
ids = []
for n in range(CASES):
    citizen = call("POST", "/v1/auth/wechat", payload={"code": f"dev:bench{n}"})["access_token"]
    app = call("POST", "/v1/applications", citizen, {
        "matter_code": ITEM,
        "applicant": {"name": "压测", "phone": "13800138000", "id_number": "11010519491231002X"},
        "return_address": {"province": "浙江省", "city": "杭州市", "district": "西湖区",
                           "detail": "文三路 100 号", "contact_name": "压测", "phone": "13800138000"},
    })
    for i, material in enumerate(["id-card", "id-card", "id-photo"]):
        upload(citizen, app["id"], material, photo(n * 10 + i))
    call("POST", f"/v1/applications/{app['id']}/submit", citizen, {})
    ids.append(app["id"])
reviewer = call("POST", "/v1/staff/login", payload={"username": "bench.reviewer", "password": PASSWORD})["access_token"]
deadline = time.time() + 300
while True:
    missing = 0
    for app_id in ids:
        case = call("GET", f"/v1/review/applications/{app_id}", reviewer)
        missing += sum(1 for m in case["application"]["materials"] for p in m["pages"] if not p.get("thumbnail_url"))
    if missing == 0:
        break
    if time.time() > deadline:
        sys.exit(f"{missing} thumbnails still missing after 300 s")
    time.sleep(2)
print("bench.reviewer")
