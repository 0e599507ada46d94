"""attack.py — the attack suite (issue 11): hostile input against a real settled.

Usage (CTest runs it; tools/test sets SETTLE_TEST_DSN):
  /usr/bin/python3 tests/attack/attack.py BUILD_DIR

Starts `settled run --clock virtual --http` on a fresh database with
tests/attack/attack.flow deployed, then sends forged, stale, replayed and
misdirected webhooks, oversize and malformed bodies, missing and wrong
tokens, SQL metacharacters in every string input (flow names, business
keys, signal names, input and payload values, query parameters, path ids,
header values) and absurd values (negative amounts, huge durations, unknown
currencies), over HTTP and through the command lines of settled and
settlectl.

Every refused request must get its 4xx status and a JSON error with a
type, a message (what happened) and a hint (what to do), echo no secret,
and leave the database exactly as it was (counts and digests of instances,
history, tasks, signals, webhook events, correlations, flow counts,
programs, flows and the clock). Every legal value with odd characters must
round-trip byte for byte. Exit status 0 when every check held.
"""
import json
import os
import re
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attack_lib import (SECRETS, STRIPE_KEY, TOKEN_READ, TOKEN_WRITE,  # noqa: E402
                        WEBHOOK_SECRET, WEBHOOK_SECRET_OLD, Failed, Results, Stack, diff,
                        event, expect, request, sign, snapshot, webhook)

# Strings that break naive SQL, LIKE patterns, shells and JSON encoders.
META = ["it's", 'a";--', "back\\slash", "100%", "under_score", "' OR '1'='1",
        "x'); DROP TABLE instances;--", "$1", "ünïcødé ✓ 日本", "tab\tand\nnewline"]

INPUTS = {"amount": {"minor": 4990, "currency": "eur"}, "count": 3, "flag": True,
          "delay": 3600 * 1000000, "due": 1767225600 * 1000000}


def inputs(key, **over):
    d = dict(INPUTS, key=key)
    d.update(over)
    return d


def q(s):
    """A string as an SQL literal (standard_conforming_strings is on)."""
    return "'" + s.replace("'", "''") + "'"


class Ctx:
    def __init__(self, stack):
        self.s = stack
        self.port = stack.port
        self.db = stack.db


# ---- shared expectations ----------------------------------------------------


def no_secret(data, extra=()):
    for s in tuple(SECRETS) + tuple(extra):
        expect(s.encode() not in data, "a secret or token was echoed back")


def error_reply(r, status, etype=None, sent=()):
    expect(r.status == status, "status %d, wanted %d: %r" % (r.status, status, r))
    err = (r.json or {}).get("error") if isinstance(r.json, dict) else None
    expect(isinstance(err, dict), "the reply is not a JSON error: %r" % r)
    for k in ("type", "message", "hint"):
        expect(isinstance(err.get(k), str) and err[k].strip(), "error has no %s: %r" % (k, r))
    if etype is not None:
        types = etype if isinstance(etype, tuple) else (etype,)
        expect(err["type"] in types, "error type %s, wanted %s" % (err["type"], etype))
    expect(r.headers.get("content-type", "").startswith("application/json"),
           "error without Content-Type application/json")
    no_secret(r.body, sent)
    return err


def refused(c, send, status, etype=None, sent=()):
    """send() must be refused with status/etype and change nothing stored."""
    wait_settled(c)  # earlier legal starts must have reached their wait
    before = snapshot(c.db)
    r = send()
    err = error_reply(r, status, etype, sent)
    after = snapshot(c.db)
    expect(before == after, "something was stored: " + diff(before, after))
    return err


def start(c, key, body_key=None, token=TOKEN_WRITE, **over):
    body = {"flow": "attack", "inputs": inputs(key, **over)}
    if body_key is not None:
        body["business_key"] = body_key
    return request(c.port, "POST", "/v1/instances", body, token=token)


def wait_settled(c, timeout=20.0):
    """Until the executor has moved every instance into its wait."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if c.db.one("SELECT count(*) FROM instances WHERE status = 'running'") == "0":
            return
        time.sleep(0.05)
    raise Failed("instances did not reach their wait")


# ---- webhooks ------------------------------------------------------------------


def webhook_cases(c, res):
    port = c.port
    key = "in_it's \";--%_\\"  # the invoice id a flow correlates on
    r = start(c, key, body_key="wh-" + key)
    expect(r.status == 201, "start for webhooks: %r" % r)
    inst = r.json["id"]
    wait_settled(c)
    obj = {"id": key, "object": "invoice", "customer": "cus_'--"}
    genuine = json.dumps(event("evt_'\";--\\%_1", obj=obj))

    def accepted():
        r = webhook(port, genuine)
        expect(r.status == 200 and r.json["duplicate"] is False and r.json["signals"] == 1,
               "genuine event: %r" % r)
        expect(r.json["id"] == "evt_'\";--\\%_1", "event id changed: %r" % r.json["id"])
        row = c.db.query("SELECT event_id, type FROM webhook_events")
        expect(row == [["evt_'\";--\\%_1", "invoice.paid"]], "stored event: %r" % row)
        sig = c.db.query("SELECT instance_id, name, source FROM signals WHERE source LIKE "
                         "'webhook:%'")
        expect(sig == [[inst, "invoice.paid", "webhook:evt_'\";--\\%_1"]], "signal: %r" % sig)
    res.check("webhook: genuine event with metacharacters in ids round-trips", accepted)

    def replay_same_bytes():
        before = snapshot(c.db)
        r = webhook(port, genuine)
        expect(r.status == 200 and r.json["duplicate"] is True, "replay: %r" % r)
        expect(snapshot(c.db) == before, "a replay stored something")
    res.check("webhook: replayed event changes nothing", replay_same_bytes)

    def replay_other_payload():
        other = event("evt_'\";--\\%_1", obj={"id": "in_other", "object": "invoice"})
        before = snapshot(c.db)
        r = webhook(port, json.dumps(other))
        expect(r.status == 200 and r.json["duplicate"] is True, "replay: %r" % r)
        expect(snapshot(c.db) == before, "a replay with another payload stored something")
    res.check("webhook: same event id with another payload changes nothing",
              replay_other_payload)

    def odd_type_and_kind():
        typ, kind, oid = "x';DROP TABLE signals;--%_", "in'voice\\", "o'1\";--"
        body = json.dumps(event("evt_attack_odd", typ=typ, obj={"id": oid, "object": kind}))
        r = webhook(port, body)
        expect(r.status == 200 and r.json["duplicate"] is False and r.json["signals"] == 0,
               "odd type: %r" % r)
        ok = c.db.one("SELECT count(*) FROM webhook_events WHERE event_id = 'evt_attack_odd' "
                      "AND type = %s" % q(typ))
        expect(ok == "1", "the event type was stored differently")
        parked = c.db.one("SELECT count(*) FROM signals WHERE instance_id IS NULL AND name = %s "
                          "AND corr_key = %s AND corr_value = %s" % (q(typ), q(kind), q(oid)))
        expect(parked == "1", "the parked signal's key or value differs")
    res.check("webhook: metacharacters in type, object kind and id are stored exactly",
              odd_type_and_kind)

    fresh = json.dumps(event("evt_attack_fresh", obj={"id": "in_nobody", "object": "invoice"}))
    now = int(time.time())
    hexsig = "v1=" + "0" * 64
    cases = [
        ("bad signature", lambda: webhook(port, fresh, sig="t=%d,%s" % (now, hexsig)),
         400, "signature_invalid"),
        ("another secret", lambda: webhook(port, fresh, sig=sign(fresh, "whsec_someone_else")),
         400, "signature_invalid"),
        ("stale timestamp", lambda: webhook(port, fresh, sig=sign(fresh, t=now - 400)),
         400, "signature_invalid"),
        ("future timestamp", lambda: webhook(port, fresh, sig=sign(fresh, t=now + 400)),
         400, "signature_invalid"),
        ("stale replay of a genuine delivery",
         lambda: webhook(port, genuine.replace("_1", "_2"),
                         sig=sign(genuine.replace("_1", "_2"), t=now - 3600)),
         400, "signature_invalid"),
        ("signature for another payload",
         lambda: webhook(port, fresh, sig=sign(genuine)), 400, "signature_invalid"),
        ("payload with one byte changed",
         lambda: webhook(port, fresh.replace("nobody", "nobodz"), sig=sign(fresh)),
         400, "signature_invalid"),
        ("no signature", lambda: webhook(port, fresh, sig=False), 400, "signature_missing"),
        ("empty signature", lambda: webhook(port, fresh, sig=""), 400, None),
        ("signature without v1", lambda: webhook(port, fresh, sig="t=%d" % now), 400, None),
        ("signature without t", lambda: webhook(port, fresh, sig=hexsig), 400, None),
        ("v1 not hex", lambda: webhook(port, fresh, sig="t=%d,v1=%s" % (now, "zz" * 32)),
         400, None),
        ("v1 too short", lambda: webhook(port, fresh, sig="t=%d,v1=abcd" % now), 400, None),
        ("t with SQL", lambda: webhook(port, fresh, sig="t=1' OR '1'='1,%s" % hexsig),
         400, None),
        ("t huge", lambda: webhook(port, fresh, sig="t=99999999999999999999,%s" % hexsig),
         400, None),
        ("t negative", lambda: webhook(port, fresh, sig="t=-5,%s" % hexsig), 400, None),
        ("signature header of 6 KB",
         lambda: webhook(port, fresh, sig="t=%d,%s" % (now, ",".join([hexsig] * 90))),
         400, None),
        ("signature with invalid UTF-8",
         lambda: webhook(port, fresh, sig=b"t=\xff\xfe,v1=\xc3("), 400, None),
        ("no Content-Type", lambda: webhook(port, fresh, ctype=None), 415, None),
        ("text/plain", lambda: webhook(port, fresh, ctype="text/plain"), 415, None),
        ("Content-Type with invalid UTF-8",
         lambda: webhook(port, fresh, ctype=b"text/\xff\xfe"), 415, None),
    ]
    bodies = [
        ("not JSON", b"{not json"),
        ("a JSON array", b"[1,2,3]"),
        ("empty body", b""),
        ("no id", json.dumps({"type": "invoice.paid", "data": {"object": {}}})),
        ("no type", json.dumps({"id": "evt_x", "data": {"object": {}}})),
        ("data.object a string",
         json.dumps({"id": "evt_x", "type": "invoice.paid", "data": {"object": "x"}})),
        ("id of 300 characters", json.dumps(event("evt_" + "a" * 296))),
        ("id an empty string", json.dumps(event(""))),
        ("id a number", json.dumps(dict(event("x"), id=12))),
        ("invalid UTF-8", b'{"id": "evt_\xff\xfe", "type": "invoice.paid", '
                          b'"data": {"object": {}}}'),
        ("a NUL byte", b'{"id": "evt_a\x00b", "type": "invoice.paid", "data": {"object": {}}}'),
        ("an escaped NUL", b'{"id": "evt_a\\u0000b", "type": "invoice.paid", '
                           b'"data": {"object": {}}}'),
        ("nesting 100000 deep", b"[" * 100000 + b"]" * 100000),
        ("type of 300 characters", json.dumps(event("evt_y", typ="t" * 300))),
    ]
    for name, body in bodies:
        body = body.encode() if isinstance(body, str) else body
        cases.append(("signed body: " + name, lambda b=body: webhook(port, b, sig=sign(b)),
                      400, ("invalid_json", "invalid_event")))
    big = b'{"id": "evt_big", "type": "x", "data": {"object": {"pad": "' + b"a" * (1 << 20) + b'"}}}'
    cases += [
        ("oversize body (Content-Length)", lambda: webhook(port, big, sig=sign(big)), 413,
         "payload_too_large"),
        ("oversize body (chunked)", lambda: webhook(port, big, sig=sign(big), chunked=True), 413,
         "payload_too_large"),
        ("declared 10 GB, nothing sent",
         lambda: raw_post(port, "/webhooks/stripe", 10 << 30), 413, "payload_too_large"),
    ]
    for name, send, status, etype in cases:
        res.check("webhook refused: " + name, refused, c, send, status, etype)

    def rotated_old_secret():
        body = json.dumps(event("evt_attack_rotated"))
        r = webhook(port, body, sig=sign(body, WEBHOOK_SECRET_OLD))
        expect(r.status == 200 and r.json["duplicate"] is False, "old secret: %r" % r)
    res.check("webhook: an event signed with the previous secret is accepted",
              rotated_old_secret)


def raw_post(port, path, length, token=None):
    from attack_lib import raw
    hdr = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
    if token:
        hdr += "Authorization: Bearer %s\r\n" % token
    hdr += "Content-Length: %d\r\n\r\n" % length
    return raw(port, hdr.encode())


# ---- the flow API: tokens and bodies ---------------------------------------------


def auth_cases(c, res):
    port = c.port
    body = {"flow": "attack", "inputs": inputs("in_auth")}
    wrong = ["tok_wrong", TOKEN_WRITE + "x", TOKEN_WRITE[:-1], TOKEN_WRITE.upper(),
             "' OR '1'='1", "%", "_", "x" * 8000, TOKEN_WRITE + "\t"]
    cases = [("no Authorization", lambda: request(port, "POST", "/v1/instances", body), None),
             ("Basic auth", lambda: request(port, "POST", "/v1/instances", body,
                                            headers={"Authorization": "Basic " + TOKEN_WRITE}),
              None),
             ("empty bearer", lambda: request(port, "POST", "/v1/instances", body,
                                              headers={"Authorization": "Bearer "}), None),
             ("token with invalid UTF-8",
              lambda: request(port, "POST", "/v1/instances", body, token=b"\xff\xfe\xfd"), None)]
    for i, w in enumerate(wrong):
        cases.append(("wrong token %d" % i,
                      lambda w=w: request(port, "POST", "/v1/instances", body, token=w), w))
    for name, send, sent in cases:
        def one(send=send, sent=sent):
            refused(c, send, 401, "unauthorized", (sent,) if sent else ())
            r = send()
            expect("bearer" in r.headers.get("www-authenticate", "").lower(),
                   "401 without WWW-Authenticate: Bearer")
        res.check("api refused: " + name, one)
    inst = c.first_id
    for name, path, b in [("start", "/v1/instances", body),
                          ("signal", "/v1/instances/%s/signals" % inst, {"name": "x"}),
                          ("cancel", "/v1/instances/%s/cancel" % inst, None)]:
        res.check("api refused: read token on " + name, refused, c,
                  lambda p=path, b=b: request(port, "POST", p, b, token=TOKEN_READ), 403,
                  "forbidden")
    for path in ["/v1/instances", "/v1/instances/" + inst]:
        res.check("api: no token on GET " + path, refused, c,
                  lambda p=path: request(port, "GET", p), 401, "unauthorized")

    def read_token_reads():
        r = request(port, "GET", "/v1/instances/" + inst, token=TOKEN_READ)
        expect(r.status == 200 and r.json["id"] == inst, "read token GET: %r" % r)
    res.check("api: the read token reads", read_token_reads)


def body_cases(c, res):
    port = c.port
    inst = c.first_id
    good = json.dumps({"flow": "attack", "inputs": inputs("in_body")})
    big = b'{"flow": "attack", "pad": "' + b"a" * (1 << 20) + b'"}'
    post = lambda path, b, **kw: request(port, "POST", path, b, token=TOKEN_WRITE, **kw)  # noqa
    sig_path = "/v1/instances/%s/signals" % inst
    cases = [
        ("start without Content-Type", lambda: post("/v1/instances", good, ctype=None), 415),
        ("start as text/plain", lambda: post("/v1/instances", good, ctype="text/plain"), 415),
        ("start with a Content-Type of invalid UTF-8",
         lambda: post("/v1/instances", good, ctype=b"application/\xff\xfe"), 415),
        ("start not JSON", lambda: post("/v1/instances", "{'flow': 'attack'}"), 400),
        ("start invalid UTF-8", lambda: post("/v1/instances", b'{"flow": "att\xffack"}'), 400),
        ("start raw NUL", lambda: post("/v1/instances", b'{"flow": "att\x00ack"}'), 400),
        ("start escaped NUL", lambda: post("/v1/instances", b'{"flow": "att\\u0000ack"}'), 400),
        ("start lone surrogate", lambda: post("/v1/instances", b'{"flow": "\\ud800"}'), 400),
        ("start duplicate keys",
         lambda: post("/v1/instances", '{"flow": "attack", "flow": "other"}'), 400),
        ("start nesting 100000 deep", lambda: post("/v1/instances", b"[" * 100000), 400),
        ("start a JSON array", lambda: post("/v1/instances", "[]"), 422),
        ("start a JSON string", lambda: post("/v1/instances", '"attack"'), 400),
        ("start unknown field",
         lambda: post("/v1/instances", {"flow": "attack", "inputs": {}, "x": 1}), 422),
        ("start flow a number", lambda: post("/v1/instances", {"flow": 5}), 422),
        ("start flow empty", lambda: post("/v1/instances", {"flow": ""}), 422),
        ("start flow missing", lambda: post("/v1/instances", {"inputs": {}}), 422),
        ("start inputs an array", lambda: post("/v1/instances", {"flow": "attack",
                                                                 "inputs": []}), 422),
        ("start missing input", lambda: post("/v1/instances", {
            "flow": "attack", "inputs": {k: v for k, v in inputs("k").items() if k != "count"}}),
         422),
        ("start unknown input", lambda: post("/v1/instances", {
            "flow": "attack", "inputs": dict(inputs("k"), extra=1)}), 422),
        ("start input of the wrong type",
         lambda: post("/v1/instances", {"flow": "attack", "inputs": inputs(5)}), 422),
        ("start business_key a number",
         lambda: post("/v1/instances", {"flow": "attack", "inputs": inputs("k"),
                                        "business_key": 7}), 422),
        ("start business_key of 256 characters",
         lambda: post("/v1/instances", {"flow": "attack", "inputs": inputs("k"),
                                        "business_key": "k" * 256}), 422),
        ("start oversize (Content-Length)", lambda: post("/v1/instances", big), 413),
        ("start oversize (chunked)", lambda: post("/v1/instances", big, chunked=True), 413),
        ("start declared 10 GB",
         lambda: raw_post(port, "/v1/instances", 10 << 30, TOKEN_WRITE), 413),
        ("signal not JSON", lambda: post(sig_path, "name=x"), 400),
        ("signal name missing", lambda: post(sig_path, {"payload": {}}), 422),
        ("signal name with a space", lambda: post(sig_path, {"name": "a b"}), 422),
        ("signal name with a newline", lambda: post(sig_path, {"name": "a\nb"}), 422),
        ("signal name with DEL", lambda: post(sig_path, {"name": "a\x7fb"}), 422),
        ("signal name of 201 characters", lambda: post(sig_path, {"name": "n" * 201}), 422),
        ("signal name empty", lambda: post(sig_path, {"name": ""}), 422),
        ("signal name a number", lambda: post(sig_path, {"name": 1}), 422),
        ("signal name reserved", lambda: post(sig_path, {"name": "settle.cancel"}), 422),
        ("signal payload an array", lambda: post(sig_path, {"name": "x", "payload": []}), 422),
        ("signal unknown field", lambda: post(sig_path, {"name": "x", "y": 1}), 422),
        ("signal oversize", lambda: post(sig_path, big), 413),
        ("cancel reason a number",
         lambda: post("/v1/instances/%s/cancel" % inst, {"reason": 5}), 422),
        ("cancel unknown field",
         lambda: post("/v1/instances/%s/cancel" % inst, {"why": "x"}), 422),
        ("cancel not JSON", lambda: post("/v1/instances/%s/cancel" % inst, "x"), 400),
    ]
    for name, send, status in cases:
        res.check("api refused: " + name, refused, c, send, status)


def protocol_cases(c, res):
    """Broken HTTP itself: libmicrohttpd refuses most of it before settle
    sees it (its own, non-JSON 4xx); nothing may be stored and the server
    must keep serving."""
    from attack_lib import raw
    port = c.port
    FOUR = tuple(range(400, 500))
    good = json.dumps({"flow": "attack", "inputs": inputs("in_proto")}).encode()
    auth = ("Authorization: Bearer %s\r\n" % TOKEN_WRITE).encode()
    head = b"POST /v1/instances HTTP/1.1\r\nHost: x\r\n" + auth + \
        b"Content-Type: application/json\r\n"
    cases = [
        ("Content-Length and chunked together",
         head + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" +
         b"%x\r\n%s\r\n0\r\n\r\n" % (len(good), good), (400,)),
        ("negative Content-Length", head + b"Content-Length: -1\r\n\r\n" + good, FOUR),
        ("Content-Length not a number", head + b"Content-Length: 1e3\r\n\r\n" + good, FOUR),
        ("two Content-Lengths",
         head + b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n" % len(good) + good, FOUR),
        ("Content-Length of 2^64", head + b"Content-Length: 18446744073709551616\r\n\r\n",
         FOUR),
        ("bad chunk size", head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + good, FOUR),
        ("garbage request line", b"\x00\xff GARBAGE\r\n\r\n", FOUR),
        ("header without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
         FOUR + (200,)),  # a read; libmicrohttpd skips the line
        ("HTTP/1.1 without Host", b"GET /v1/instances HTTP/1.1\r\n" + auth + b"\r\n",
         FOUR + (200,)),  # a read; libmicrohttpd is lenient here
        ("HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", (505,)),
    ]
    for name, data, allowed in cases:
        def one(data=data, allowed=allowed):
            wait_settled(c)
            before = snapshot(c.db)
            try:
                r = raw(port, data, timeout=2)
                status = r.status
            except Failed:
                status = None  # closed without an answer: acceptable for broken HTTP
            expect(status is None or status in allowed, "answered %s" % status)
            after = snapshot(c.db)
            expect(before == after, "something was stored: " + diff(before, after))
            expect(request(port, "GET", "/healthz").status == 200, "server gone after it")
        res.check("protocol refused: " + name, one)
    res.check("unknown method FOO is a JSON 405", refused, c,
              lambda: request(port, "FOO", "/v1/instances", token=TOKEN_WRITE), 405,
              "method_not_allowed")


# ---- SQL metacharacters ------------------------------------------------------------


def flow_name_cases(c, res):
    names = META + ["attack'--", "attack%", "attac_", "ATTACK", "attack ", " attack",
                    "é" * 100, "日本" * 33]
    for i, n in enumerate(names):
        res.check("api refused: flow name %d (%r)" % (i, n[:20]), refused, c,
                  lambda n=n: request(c.port, "POST", "/v1/instances",
                                      {"flow": n, "inputs": inputs("k")}, token=TOKEN_WRITE),
                  404, "not_found")
    res.check("api refused: flow name of 10000 characters", refused, c,
              lambda: request(c.port, "POST", "/v1/instances",
                              {"flow": "a" * 10000, "inputs": {}}, token=TOKEN_WRITE), 422)


def key_roundtrip_cases(c, res):
    port = c.port
    keys = META + ["k" * 255, "%", "_", "\\", "\"", "'", ";", "--", "/*", "é" * 127]
    for i, k in enumerate(keys):
        def one(k=k, i=i):
            r = start(c, "in_%d_%s" % (i, k), body_key=k)
            expect(r.status == 201, "start with business key %r: %r" % (k, r))
            expect(r.json["business_key"] == k, "key came back as %r" % r.json["business_key"])
            expect(r.json["vars"]["key"] == "in_%d_%s" % (i, k), "key input mangled")
            iid = r.json["id"]
            expect(r.headers.get("location") == "/v1/instances/" + iid, "Location header")
            stored = c.db.one("SELECT business_key = %s AND vars->>'key' = %s FROM instances "
                              "WHERE id = %s" % (q(k), q("in_%d_%s" % (i, k)), q(iid)))
            expect(stored == "t", "stored key or input differs from what was sent")
            g = request(port, "GET", "/v1/instances/" + iid, token=TOKEN_READ)
            expect(g.status == 200 and g.json["business_key"] == k, "GET: %r" % g)
            lst = request(port, "GET", "/v1/instances?limit=500&business_key=" +
                          urllib.parse.quote(k, safe=""), token=TOKEN_READ)
            expect(lst.status == 200 and [x["id"] for x in lst.json["data"]] == [iid],
                   "list by business_key %r: %r" % (k, lst))
            again = start(c, "in_%d_%s" % (i, k), body_key=k)
            expect(again.status == 200 and again.json["existing"] is True and
                   again.json["id"] == iid, "replay of the key: %r" % again)
            other = start(c, "in_other", body_key=k)
            expect(other.status == 409, "same key, other inputs: %r" % other)
        res.check("business key %d (%r) round-trips" % (i, k[:20]), one)

    def long_value():
        v = "'\";--%_\\ü" * 10000  # 110 KB of metacharacters as an input value
        r = start(c, v, body_key="long-value")
        expect(r.status == 201 and r.json["vars"]["key"] == v, "long input: %r" % r)
        ok = c.db.one("SELECT vars->>'key' = %s FROM instances WHERE id = %s"
                      % (q(v), q(r.json["id"])))
        expect(ok == "t", "the long input was stored differently")
    res.check("an input value of 110 KB of metacharacters round-trips", long_value)

    def huge_header():
        r = request(port, "GET", "/v1/instances", token=TOKEN_READ,
                    headers={"X-Pad": "a" * (64 << 10)})
        expect(400 <= r.status < 500, "64 KB header: %r" % r)
        expect(request(port, "GET", "/healthz").status == 200, "server gone after it")
    res.check("a 64 KB header is refused by the HTTP layer and the server stays up",
              huge_header)

    def header_key():
        k = "hdr it's \";--%_\\ $1"
        r = request(port, "POST", "/v1/instances", {"flow": "attack", "inputs": inputs("h")},
                    token=TOKEN_WRITE, headers={"Idempotency-Key": k})
        expect(r.status == 201 and r.json["business_key"] == k, "Idempotency-Key: %r" % r)
    res.check("Idempotency-Key with metacharacters round-trips", header_key)
    bad_headers = [("invalid UTF-8", b"key-\xff\xfe"), ("of 256 characters", "k" * 256),
                   ("a lone UTF-8 lead byte", b"key-\xc3"), ("overlong UTF-8", b"key-\xc0\xaf")]
    for name, v in bad_headers:
        res.check("api refused: Idempotency-Key " + name, refused, c,
                  lambda v=v: request(port, "POST", "/v1/instances",
                                      {"flow": "attack", "inputs": inputs("h2")},
                                      token=TOKEN_WRITE, headers={"Idempotency-Key": v}),
                  422, "invalid_request")


def signal_cases(c, res):
    port = c.port
    inst = c.first_id
    names = ["it's", 'a";--', "back\\slash", "100%", "under_score", "_", "%", "$1",
             "ünïcødé.✓", "x');DROP", "n" * 200]
    for i, n in enumerate(names):
        def one(n=n):
            payload = {"v": "'\";--\\%_", "u": "ü✓日本", "n": None, "nested": {"a'": ["%"]}}
            r = request(port, "POST", "/v1/instances/%s/signals" % inst,
                        {"name": n, "payload": payload}, token=TOKEN_WRITE)
            expect(r.status == 202 and r.json["signal"] == n, "signal %r: %r" % (n, r))
            sid = r.json["signal_id"]
            row = c.db.query("SELECT name = %s, payload::text FROM signals WHERE id = %d"
                             % (q(n), sid))
            expect(len(row) == 1 and row[0][0] == "t", "stored name differs: %r" % row)
            expect(json.loads(row[0][1]) == payload, "stored payload differs: %r" % row)
        res.check("signal name %d (%r) and payload round-trip" % (i, n[:20]), one)

    def cancel_reason():
        r = request(port, "POST", "/v1/instances/%s/cancel" % c.cancel_id,
                    {"reason": "it's \";-- %_\\"}, token=TOKEN_WRITE)
        expect(r.status == 202, "cancel: %r" % r)
        p = c.db.one("SELECT payload->>'reason' = %s FROM signals WHERE id = %d"
                     % (q("it's \";-- %_\\"), r.json["signal_id"]))
        expect(p == "t", "reason stored differently")
    res.check("cancel reason with metacharacters round-trips", cancel_reason)


def query_and_path_cases(c, res):
    port = c.port
    get = lambda path: request(port, "GET", path, token=TOKEN_READ)  # noqa: E731
    literal = [("flow", "' OR '1'='1"), ("flow", "attack'--"), ("flow", "%"), ("flow", "_"),
               ("flow", "attac_"), ("state", "%"), ("state", "'"), ("state", "wai_"),
               ("business_key", "%"), ("business_key", "%%"), ("business_key", "_"),
               ("business_key", "firs_"), ("business_key", "' OR 1=1--")]
    column = {"flow": "flow", "state": "state_name", "business_key": "business_key"}
    for name, v in literal:
        def one(name=name, v=v):
            qs = "limit=500&%s=%s" % (name, urllib.parse.quote(v, safe=""))
            r = get("/v1/instances?" + qs)
            want = [row[0] for row in c.db.query(
                "SELECT id FROM instances WHERE %s = %s ORDER BY id DESC" % (column[name], q(v)))]
            expect(r.status == 200 and [x["id"] for x in r.json["data"]] == want,
                   "?%s: %d rows, wanted %d: %r" % (qs, len((r.json or {}).get("data") or []),
                                                     len(want), r))
        res.check("list ?%s=%r matches exactly, not as a pattern" % (name, v), one)
    for qs in ["flow=attack%00x", "business_key=first%00", "flow=%00"]:
        def nul(qs=qs):
            r = get("/v1/instances?" + qs)
            expect(r.status == 200 and r.json["data"] == [], "?%s: %r" % (qs, r))
        res.check("list ?%s is not cut at the NUL" % qs, nul)
    bad = ["status=running%27--", "status=%25", "cursor=%27", "cursor=1%20OR%201=1",
           "limit=1;DROP", "limit=0", "limit=-1", "limit=501", "limit=99999999999999999999",
           "limit=1e3", "limit=", "flow=%FF%FE", "state=%C3", "business_key=%C0%AF",
           "cursor=%FF", "status=%FF"]
    for qs in bad:
        res.check("list refused ?%s" % qs, refused, c, lambda qs=qs: get("/v1/instances?" + qs),
                  422, "invalid_request")
    paths = ["/v1/instances/%27", "/v1/instances/%27%20OR%20%271%27%3D%271",
             "/v1/instances/%FF%FE", "/v1/instances/%00", "/v1/instances/" + "a" * 300,
             "/v1/instances/" + c.first_id + "%27", "/v1/instances/%25", "/v1/instances/_",
             "/v1/instances/00000000-0000-0000-0000-000000000000"]
    for p in paths:
        res.check("GET %s is 404" % p[:60], refused, c, lambda p=p: get(p), 404, "not_found")
        res.check("signal to %s is 404" % p[:60], refused, c,
                  lambda p=p: request(port, "POST", p + "/signals", {"name": "x"},
                                      token=TOKEN_WRITE), 404, "not_found")
        res.check("cancel of %s is 404" % p[:60], refused, c,
                  lambda p=p: request(port, "POST", p + "/cancel", None, token=TOKEN_WRITE),
                  404, "not_found")
    for p in ["/%FF", "/v1/%27%3B--", "/webhooks/stripe%00", "/v1/instances/x/y/z"]:
        res.check("unknown route %s is 404" % p, refused, c, lambda p=p: get(p), 404,
                  "not_found")
    res.check("DELETE on an instance is 405", refused, c,
              lambda: request(port, "DELETE", "/v1/instances/" + c.first_id, token=TOKEN_WRITE),
              405, "method_not_allowed")


# ---- absurd values ------------------------------------------------------------------


ABSURD = [
    ("negative amount", {"amount": {"minor": -4990, "currency": "eur"}}),
    ("amount of 10^15", {"amount": {"minor": 10 ** 15, "currency": "eur"}}),
    ("fractional amount", {"amount": {"minor": 49.9, "currency": "eur"}}),
    ("amount as a string", {"amount": {"minor": "4990", "currency": "eur"}}),
    ("unknown currency xyz", {"amount": {"minor": 1, "currency": "xyz"}}),
    ("unknown currency qqq", {"amount": {"minor": 1, "currency": "qqq"}}),
    ("upper-case currency", {"amount": {"minor": 1, "currency": "EUR"}}),
    ("currency of 4 letters", {"amount": {"minor": 1, "currency": "euro"}}),
    ("currency empty", {"amount": {"minor": 1, "currency": ""}}),
    ("currency with SQL", {"amount": {"minor": 1, "currency": "e'r"}}),
    ("money with an extra field", {"amount": {"minor": 1, "currency": "eur", "x": 1}}),
    ("negative duration", {"delay": -1}),
    ("duration of 1000 years", {"delay": 1000 * 365 * 86400 * 1000000}),
    ("duration of int64 max", {"delay": 2 ** 63 - 1}),
    ("negative time", {"due": -1}),
    ("time in the year 30000", {"due": 10 ** 18}),
]


def absurd_cases(c, res):
    for i, (name, over) in enumerate(ABSURD):
        res.check("api refused: " + name, refused, c,
                  lambda over=over, i=i: start(c, "in_absurd", body_key="absurd%d" % i, **over),
                  422, "invalid_inputs")
    res.check("api refused: count above int64", refused, c,
              lambda: request(c.port, "POST", "/v1/instances",
                              '{"flow": "attack", "inputs": {"count": 99999999999999999999}}',
                              token=TOKEN_WRITE), 400, "invalid_json")


# ---- command lines -----------------------------------------------------------------


def cli_refused(c, prog, args, rc_want=None, needle=None):
    wait_settled(c)
    before = snapshot(c.db)
    rc, out, err = c.s.cli(prog, *args)
    text = err.decode("utf-8", "replace")
    expect(rc != 0, "%s %r was accepted: %s" % (prog, args, out[:200]))
    expect(rc_want is None or rc == rc_want, "exit %d, wanted %s: %s" % (rc, rc_want, text))
    expect(rc < 128, "%s crashed (exit %d): %s" % (prog, rc, text[-400:]))
    expect("error" in text or "invalid option" in text, "no error message: %r" % text[:300])
    expect(needle is None or needle in text, "message lacks %r: %s" % (needle, text[:300]))
    no_secret(out + err)
    after = snapshot(c.db)
    expect(before == after, "something was stored: " + diff(before, after))


def cli_cases(c, res):
    good_input = json.dumps(inputs("in_cli 'x\";--%_\\"))
    for i, k in enumerate(["cli it's \";--%_\\ $1", "cli ünï ✓", "cli" + "k" * 200]):
        def one(k=k):
            rc, out, err = c.s.cli("settled", "start", "attack", "--input", good_input, "--key", k)
            expect(rc == 0, "settled start with key %r: %s" % (k, err))
            iid = out.decode().split()[0]
            ok = c.db.one("SELECT business_key = %s AND vars->>'key' = %s FROM instances WHERE "
                          "id = %s" % (q(k), q("in_cli 'x\";--%_\\"), q(iid)))
            expect(ok == "t", "settled start stored the key or input differently")
            rc, out, err = c.s.cli("settlectl", "list", "--key", k, "--json")
            expect(rc == 0 and iid in out.decode(), "settlectl list --key: %s" % err)
        res.check("settled start key %d round-trips" % i, one)
    starts = [
        ("flow with SQL", ["attack'; DROP TABLE instances;--"]),
        ("flow %", ["%"]), ("flow _", ["attac_"]),
        ("flow with invalid UTF-8", [b"att\xffack"]),
        ("input not JSON", ["attack", "--input", "{'key': 1}"]),
        ("input with invalid UTF-8", ["attack", "--input", b'{"key": "\xff"}']),
        ("input an array", ["attack", "--input", "[]"]),
        ("key with invalid UTF-8", ["attack", "--input", good_input, "--key", b"k\xff\xfe"]),
        ("key of 256 characters", ["attack", "--input", good_input, "--key", "k" * 256]),
        ("key empty", ["attack", "--input", good_input, "--key", ""]),
    ]
    for name, over in ABSURD:
        starts.append((name, ["attack", "--input", json.dumps(inputs("in_cli_absurd", **over))]))
    for name, args in starts:
        res.check("settled start refused: " + name, cli_refused, c, "settled", ["start"] + args)
    durations = ["-1d", "1d;DROP", "' OR 1=1", "99999999999999999999d", "106751991d",
                 "1000000d", "1x", "", "d", "1.5d", "１d"]
    for d in durations:
        res.check("settled clock advance refused: %r" % d, cli_refused, c, "settled",
                  ["clock", "advance", d])
        res.check("settlectl clock advance refused: %r" % d, cli_refused, c, "settlectl",
                  ["clock", "advance", d])
    inst = c.first_id
    ctl = [
        ("show SQL id", ["show", "' OR '1'='1"]), ("show %", ["show", "%"]),
        ("signal to a SQL id", ["signal", "x'--", "poke"]),
        ("signal name with a space", ["signal", inst, "a b"]),
        ("signal payload not JSON", ["signal", inst, "poke", "{'a': 1}"]),
        ("signal payload an array", ["signal", inst, "poke", "[1]"]),
        ("signal payload invalid UTF-8", ["signal", inst, "poke", b'{"a": "\xff"}']),
        ("signal name reserved", ["signal", inst, "settle.cancel"]),
        ("cancel SQL id", ["cancel", "1' OR '1'='1", "--reason", "x"]),
        ("list status with SQL", ["list", "--status", "running'--"]),
        ("list older-than negative", ["list", "--older-than", "-5d"]),
        ("list older-than huge", ["list", "--older-than", "99999999999999999999d"]),
        ("list limit negative", ["list", "--limit", "-1"]),
        ("list limit SQL", ["list", "--limit", "1;DROP"]),
        ("list after SQL", ["list", "--after", "' OR 1=1"]),
        ("cancel --all with SQL status", ["cancel", "--all", "--status", "x'--", "--reason", "r"]),
    ]
    for name, args in ctl:
        res.check("settlectl refused: " + name, cli_refused, c, "settlectl", args)

    def ctl_signal_roundtrip():
        name, payload = "ctl'\";--%_\\", {"v": "'\";--\\%_ü"}
        rc, out, err = c.s.cli("settlectl", "signal", inst, name, json.dumps(payload))
        expect(rc == 0, "settlectl signal: %s" % err)
        row = c.db.query("SELECT payload::text FROM signals WHERE name = %s" % q(name))
        expect(len(row) == 1 and json.loads(row[0][0]) == payload, "stored: %r" % row)
    res.check("settlectl signal with metacharacters round-trips", ctl_signal_roundtrip)

    def ctl_list_like():
        column = {"--key": "business_key", "--flow": "flow", "--state": "state_name"}
        for flag, v in (("--key", "%"), ("--key", "_"), ("--key", "firs_"), ("--flow", "%"),
                        ("--flow", "attac_"), ("--state", "%"), ("--key", "' OR '1'='1"),
                        ("--flow", "attack' OR '1'='1")):
            rc, out, err = c.s.cli("settlectl", "--json", "list", flag, v, "--limit", "1000")
            expect(rc == 0, "settlectl list %s %r: %s" % (flag, v, err))
            text = out.decode()
            got = sorted(set(re.findall(r'"id": ?"([0-9a-f-]{36})"', text)))
            want = sorted(r[0] for r in c.db.query(
                "SELECT id FROM instances WHERE %s = %s" % (column[flag], q(v))))
            expect(got == want, "settlectl list %s %r: %d rows, wanted %d" % (
                flag, v, len(got), len(want)))
    res.check("settlectl list filters are literal, not patterns", ctl_list_like)


# ---- the run ----------------------------------------------------------------------------


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SETTLE_BINARY_DIR")
    if not build:
        print("usage: attack.py BUILD_DIR", file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    logdir = os.path.join(build, "test-logs", "attack")
    stack = Stack(build, os.path.dirname(os.path.dirname(here)), logdir)
    res = Results()
    t0 = time.monotonic()
    try:
        stack.start(os.path.join(here, "attack.flow"))
        c = Ctx(stack)
        r = start(c, "in_first", body_key="first")
        expect(r.status == 201, "first start: %r" % r)
        c.first_id = r.json["id"]
        r = start(c, "in_cancel", body_key="cancel-me")
        expect(r.status == 201, "second start: %r" % r)
        c.cancel_id = r.json["id"]
        wait_settled(c)
        for group in (webhook_cases, auth_cases, body_cases, protocol_cases, flow_name_cases,
                      key_roundtrip_cases, signal_cases, query_and_path_cases, absurd_cases,
                      cli_cases):
            group(c, res)
            if not stack.alive():
                res.fail(group.__name__, "settled died (see %s)" % stack.log_path)
                break
            if request(c.port, "GET", "/healthz").status != 200:
                res.fail(group.__name__, "GET /healthz failed after this group")
    except Failed as e:
        res.fail("setup", str(e))
    finally:
        rc = stack.stop()
        if rc not in (0, None):
            res.fail("settled exit", "settled exited with %s on SIGTERM (see %s)"
                     % (rc, stack.log_path))
        if os.path.exists(getattr(stack, "log_path", "")):
            with open(stack.log_path, "rb") as f:
                log = f.read()
            if b"Sanitizer" in log or b"runtime error:" in log:
                res.fail("settled log", "a sanitizer report in %s" % stack.log_path)
    print("attack: %d checks passed, %d failed in %.1f s" % (res.passed, len(res.failed),
                                                             time.monotonic() - t0))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
