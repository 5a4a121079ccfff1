#!/usr/bin/env python3
"""Helpers for scripts/bench-read.sh: the data set, the concurrent claim-next run, the summary.

  setup BASE PASSWORD OUT.json     through the API: staff, the owner citizen, the owner's 10-page
                                   draft and 49 more applications; writes tokens and ids
  seed-sql BACKEND SETUP.json      SQL (stdout) cloning the owner's draft into 10,000 citizens'
                                   100,000 applications across every state, 5,000 waiting for
                                   the queue's department and 2,000 for claim-next's, and a
                                   shipment on one of the owner's applications
  claims WORK SPAN                 claim-next's run (wrk with scripts/bench_claims.lua) as JSON:
                                   claims, distinct cases, calls/s over SPAN seconds, latency
  statements LOG START             the statements one request sent, from PostgreSQL's log after
                                   line START, as a pgbench script
  cpu PID                          the process's CPU seconds so far (user + system)
  summary DIR                      the table of every read against the run's limits
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
import uuid

OWNER_ITEM = "real-estate-transfer-resale"
OWNER_MATERIAL = "sale-contract"  # photos, up to 30 pages
LIST_ITEM = "birth-registration"
QUEUE_DEPARTMENT = "civil-affairs"
CLAIM_DEPARTMENT = "market-regulation"
REVIEWERS = 20
CITIZENS = int(os.environ.get("BENCH_CITIZENS", "10000"))
APPLICATIONS = int(os.environ.get("BENCH_APPLICATIONS", "100000"))
QUEUED = int(os.environ.get("BENCH_QUEUED", "5000"))
CLAIMABLE = int(os.environ.get("BENCH_CLAIMABLE", "2000"))
OTHER_STATES = ["draft", "returned", "rejected", "prereview_passed", "pickup_scheduled",
                "originals_in_transit", "received", "at_department", "approved", "refused",
                "result_in_delivery", "completed", "cancelled"]


def request(base, method, path, token=None, body=None, headers=None, content_type=None):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    h = dict(headers or {})
    if token:
        h["authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h.setdefault("content-type", "application/json")
    if content_type:
        h["content-type"] = content_type
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def api(base, method, path, token=None, body=None, headers=None, ok=(200, 201)):
    status, data = request(base, method, path, token, body, headers)
    if status not in ok:
        sys.exit(f"{method} {path}: {status} {data[:300]!r}")
    return json.loads(data) if data else None


def photo(seed):
    """A real photo-sized JPEG (noise, 1200x1600), different for each seed."""
    from PIL import Image
    img = Image.frombytes("RGB", (1200, 1600), os.urandom(1200 * 1600 * 3))
    img.putpixel((0, 0), tuple(hashlib.sha256(str(seed).encode()).digest()[:3]))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def upload(base, token, app_id, material, seed):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; "
            f"filename=\"page{seed}.jpg\"\r\ncontent-type: image/jpeg\r\n\r\n").encode()
    body += photo(seed) + f"\r\n--{boundary}--\r\n".encode()
    status, data = request(base, "POST", f"/v1/applications/{app_id}/materials/{material}/pages",
                           token, body, content_type=f"multipart/form-data; boundary={boundary}")
    if status != 201:
        sys.exit(f"upload: {status} {data[:300]!r}")


def login_staff(base, username, password):
    return api(base, "POST", "/v1/staff/login",
               body={"username": username, "password": password})["access_token"]


def cmd_setup(base, password, out):
    admin = login_staff(base, "bench.admin", password)

    def staff(username, department):
        api(base, "POST", "/v1/admin/staff", admin, {
            "username": username, "display_name": username, "password": password,
            "roles": ["reviewer"], "departments": [department]})
        return login_staff(base, username, password)

    reviewer = staff("bench.queue", QUEUE_DEPARTMENT)
    claimers = [staff(f"bench.claim{i}", CLAIM_DEPARTMENT) for i in range(REVIEWERS)]
    owner = api(base, "POST", "/v1/auth/wechat", body={"code": "dev:bench-owner"})["access_token"]

    def new_application(item, n):
        return api(base, "POST", "/v1/applications", owner, {
            "matter_code": item,
            "applicant": {"name": "压测申请人", "phone": "13800138000",
                          "id_number": "11010519491231002X"},
            "return_address": {"contact_name": "压测申请人", "phone": "13800138000",
                               "province": "浙江省", "city": "宁波市", "district": "海曙区",
                               "detail": "测试路 1 号"},
        }, headers={"idempotency-key": f"bench-{n}"})["id"]

    paged = new_application(OWNER_ITEM, 0)
    for seed in range(10):
        upload(base, owner, paged, OWNER_MATERIAL, seed)
    others = [new_application(LIST_ITEM, n) for n in range(1, 50)]
    view = api(base, "GET", f"/v1/applications/{paged}", owner)
    pages = sum(len(m["pages"]) for m in view["materials"])
    if pages != 10:
        sys.exit(f"the owner's application has {pages} pages, not 10")
    json.dump({"owner": owner, "reviewer": reviewer, "claimers": claimers, "paged": paged,
               "shipped": others[0], "others": others}, open(out, "w"))
    print(f"owner's application {paged} with {pages} pages; 49 more; "
          f"1 + {REVIEWERS} reviewers")


def cmd_seed_sql(backend, setup_file):
    setup = json.load(open(setup_file))
    pg = backend == "postgres"
    new_id = "gen_random_uuid()" if pg else "randomblob(16)"

    def lit(u):
        return f"'{u}'::uuid" if pg else f"X'{uuid.UUID(u).hex}'"

    template = lit(setup["paged"])
    # stdin: one line per table, `table column column ...`, as the database lists them.
    tables = {line.split()[0]: line.split()[1:] for line in sys.stdin if line.strip()}
    columns = tables["applications"]
    # Each clone: its own id and citizen; a state, department and item by its number i.
    state = (f"CASE WHEN i <= {QUEUED} OR i <= {QUEUED + CLAIMABLE} THEN 'submitted' "
             f"ELSE (CASE (i % {len(OTHER_STATES)}) "
             + " ".join(f"WHEN {k} THEN '{s}'" for k, s in enumerate(OTHER_STATES))
             + " END) END")
    matter = ("(SELECT {col} FROM matters WHERE is_current AND department_code = CASE "
              f"WHEN i <= {QUEUED} THEN '{QUEUE_DEPARTMENT}' "
              f"WHEN i <= {QUEUED + CLAIMABLE} THEN '{CLAIM_DEPARTMENT}' "
              "ELSE 'real-estate-registration' END ORDER BY code LIMIT 1)")
    overrides = {
        "id": new_id,
        "citizen_id": f"(SELECT id FROM citizens WHERE openid = 'bench-' || (i % {CITIZENS}))",
        "state": state,
        "matter_id": matter.format(col="id"),
        "matter_code": matter.format(col="code"),
        "department_code": matter.format(col="department_code"),
        "version": "3",
        "submitted_at": "t.created_at",
        "first_submitted_at": "t.created_at",
        "claimed_by": "NULL",
        "claim_expires_at": "NULL",
    }
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    series = lambda n: (f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                        f"WHERE i < {n})")
    print("BEGIN;")
    citizen = {"id": new_id, "openid": "'bench-' || (i - 1)", "unionid": "NULL"}
    print(f"""{series(CITIZENS)}
INSERT INTO citizens ({", ".join(tables["citizens"])})
SELECT {", ".join(citizen.get(c, f"t.{c}") for c in tables["citizens"])}
FROM s, citizens t WHERE t.id = (SELECT citizen_id FROM applications WHERE id = {template});""")
    print(f"""{series(APPLICATIONS)}
INSERT INTO applications ({", ".join(columns)})
SELECT {select} FROM s, applications t WHERE t.id = {template};""")
    # One of the owner's applications waits for its pickup, with the courier order booked.
    shipped = lit(setup["shipped"])
    print(f"""UPDATE applications SET state = 'pickup_scheduled' WHERE id = {shipped};
INSERT INTO shipments
  (id, application_id, leg, partner, order_id, order_status, status, waybill_no, sender,
   recipient, pickup_date, pickup_slot, version, created_at, updated_at)
SELECT {new_id}, a.id, 'materials', 'sf', 'BBBENCH0001', 'created', 'pending', 'SF9000000000001',
  '{{"name":"压测","phone":"13800138000","province":"浙江省","city":"宁波市","district":"海曙区","detail":"测试路 1 号"}}',
  '{{"name":"政务服务中心收件室","phone":"057187000000","province":"浙江省","city":"杭州市","district":"西湖区","detail":"文三路 1 号政务服务中心 1 楼"}}',
  '2026-12-07', '09:00-12:00', 1, a.created_at, a.created_at
FROM applications a WHERE a.id = {shipped};""")
    print("COMMIT;")
    print("ANALYZE;")


def cmd_claims(work, span):
    """claim-next: wrk's JSON line (scripts/bench_claims.lua), the claimed ids, and the span in
    seconds between the first and the last claim's audit record."""
    run = json.load(open(os.path.join(work, "claims-wrk.json")))
    claimed = [line for line in open(os.path.join(work, "claimed")).read().split("\n") if line]
    span = float(span or 0)
    print(json.dumps({"claims": len(claimed), "distinct": len(set(claimed)),
                      "errors": run["errors"], "last_error": run["last_error"],
                      "requests": run["calls"],
                      "per_second": round(len(claimed) / span) if span else None,
                      "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"], "max_ms": run["max_ms"]}))


def cmd_statements(log, start):
    """The statements one request sent, from PostgreSQL's log (log_min_duration_statement = 0)
    after line START, with their parameters in place: a pgbench script (stdout). Background work
    (jobs, the catalogue watcher, the revocation list, the thumbnail worker's poll, any write but
    an audit record) is left out; an INSERT gets a fresh id (its first parameter) each time, so
    the script can repeat."""
    import re
    entries = []  # each log entry: its first line and continuation lines, joined
    for line in open(log, errors="replace").readlines()[int(start):]:
        if re.match(r"\S+ \S+ UTC \[", line) or not entries:
            entries.append(line)
        else:
            entries[-1] += line
    statements = []  # [sql, parameters]
    executed = {}  # per backend: the statement its last entry executed, if it was one
    for entry in entries:
        backend = re.search(r"UTC \[(\d+)\]", entry)
        pid = backend.group(1) if backend else None
        logged = re.search(r"LOG:  duration: [\d.]+ ms  (?:execute [^:]+|statement): (.*)", entry, re.S)
        detail = re.search(r"DETAIL:  parameters: (.*)", entry, re.S)
        if logged:
            statements.append([" ".join(logged.group(1).split()), ""])
            executed[pid] = statements[-1]
        elif detail and executed.get(pid):
            executed[pid][1] = detail.group(1)
        else:
            executed[pid] = None
    out = []
    for sql, params in statements:
        if not sql or re.search(r'\bjobs\b|"catalog_state"|"catalog_readers"|"refresh_tokens"|^LISTEN'
                                r'|"thumbnail_key" IS NULL', sql):
            continue
        # A read writes nothing but its audit record; any other write is background work.
        if re.match(r"(UPDATE|DELETE)\b", sql) or (sql.startswith("INSERT")
                                                   and not sql.startswith('INSERT INTO "audit_log"')):
            continue
        values = {m.group(1): (f"'{m.group(2)}'" if m.group(3) is None else "NULL")
                  for m in re.finditer(r"\$(\d+) = (?:'((?:[^']|'')*)'|(NULL))", params)}
        if sql.startswith("INSERT"):
            values["1"] = "gen_random_uuid()"
        out.append(re.sub(r"\$(\d+)\b", lambda m: values[m.group(1)], sql) + ";")
    print("\n".join(out))


def cmd_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))


def cmd_summary(work):
    rows = [json.loads(line) for line in open(os.path.join(work, "reads.jsonl"))]
    limits = json.load(open(os.path.join(work, "limits.json")))
    select = limits.get("select_mean")
    healthz = next((r["rps"] for r in rows if r["name"] == "healthz"), None)
    targets = {"application": ("select", 0.25), "matters": ("healthz", 0.5),
               "matters-304": ("healthz", None), "matter": ("healthz", None),
               "queue": ("select", 0.15)}
    own = limits.get("statements") or {}
    print("| read | requests/s | p50 | p99 | service CPU per request | against | ratio | target "
          "| its own statements in pgbench | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        against, target = targets.get(r["name"], ("select", None))
        base = healthz if against == "healthz" else select
        ratio = f"{r['rps'] / base:.2f}×" if base else "–"
        label = "`GET /healthz`" if against == "healthz" else "`pgbench -S`"
        if r["name"] == "healthz":
            label, ratio = "–", "–"
        verdict = ("–" if target is None else
                   (f"≥ {target}× {'met' if base and r['rps'] / base >= target else 'MISSED'}"))
        statements = own.get(r["name"])
        alone = (f"{statements:,.0f} TPS | {r['rps'] / statements:.2f}×" if statements
                 else "– | –")
        print(f"| `{r['request']}` | {r['rps']:,.0f} | {r['p50']} | {r['p99']} | "
              f"{r['cpu_us']:.0f} µs | {label} | {ratio} | {verdict} | {alone} |")
    if select:
        print(f"\npgbench -S: {limits['select_before']:,.0f} TPS before, "
              f"{limits['select_after']:,.0f} after (mean {select:,.0f})")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"setup": lambda: cmd_setup(*args),
     "seed-sql": lambda: cmd_seed_sql(*args),
     "claims": lambda: cmd_claims(*args),
     "statements": lambda: cmd_statements(*args),
     "cpu": lambda: cmd_cpu(*args),
     "summary": lambda: cmd_summary(*args)}[cmd]()
