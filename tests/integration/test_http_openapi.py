"""docs/openapi.json (OpenAPI 3.1) against real answers: a running tickler
answers a request for every documented path and method, and each answer's
body is valid against the schema the document gives for its status
(python3-jsonschema, Draft 2020-12, the dialect of OpenAPI 3.1).  Every
route the server has is documented, and every documented one exists."""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tkharness import SOURCE  # noqa: E402
from httpharness import Daemon  # noqa: E402
from test_http_api import deploy  # noqa: E402

try:
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

SPEC_PATH = os.path.join(SOURCE, "docs", "openapi.json")


@unittest.skipUnless(jsonschema, "python3-jsonschema is not installed")
class OpenApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(SPEC_PATH) as f:
            cls.spec = json.load(f)

    def setUp(self):
        self.seen = set()

    def validator(self, schema):
        resolver = jsonschema.RefResolver.from_schema(self.spec)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)

    def template(self, path):
        path = path.split("?", 1)[0]
        for tpl in self.spec["paths"]:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tpl) + "$"
            if re.match(rx, path):
                return tpl
        self.fail("undocumented path %s" % path)

    def check(self, method, path, body=None, token=None, status=None, **kw):
        st, h, b = self.d.api(method, path, body, token=token, **kw)
        if status is not None:
            self.assertEqual(st, status, "%s %s: %r" % (method, path, b))
        tpl = self.template(path)
        op = self.spec["paths"][tpl].get(method.lower())
        self.assertIsNotNone(op, "%s %s is not documented" % (method, tpl))
        resp = op["responses"].get(str(st))
        self.assertIsNotNone(resp, "%s %s: status %d is not documented" % (method, tpl, st))
        if "$ref" in resp:
            resp = self.spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        ctype = h.get("content-type", "").split(";")[0]
        self.assertIn(ctype, resp["content"], "%s %s %d: %s" % (method, tpl, st, ctype))
        schema = resp["content"][ctype]["schema"]
        errors = list(self.validator(schema).iter_errors(b))
        self.assertEqual(errors, [], "%s %s %d: %r" % (method, tpl, st, b))
        self.seen.add((method.lower(), tpl))
        return b

    def test_the_document_is_valid_and_matches_every_answer(self):
        for name, schema in self.spec["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)
        self.assertEqual(self.spec["openapi"], "3.1.0")
        t = deploy(self, lua=True)
        self.d = Daemon(self, t)
        w = self.d.token("w", "write")
        r = self.d.token("r", "read")
        c = self.check
        c("GET", "/api/v1/health", status=200)
        acc = c("POST", "/api/v1/accounts", {"name": "Acme BV"}, w, 201)
        aid = acc["id"]
        c("GET", "/api/v1/accounts", token=r, status=200)
        c("GET", "/api/v1/accounts/%d" % aid, token=r, status=200)
        c("POST", "/api/v1/accounts/%d/contacts" % aid, {"email": "ann@acme.example"}, w, 201)
        c("GET", "/api/v1/accounts/%d/contacts" % aid, token=r, status=200)
        c("PATCH", "/api/v1/accounts/%d/contacts/ann@acme.example" % aid, {"notify": True}, w, 200)
        inv = c("POST", "/api/v1/items", {"type": "invoice", "account": aid, "title": "Fees",
                                          "fields": {"amount": 10, "currency": "EUR"}},
                w, 201, headers={"Idempotency-Key": "k1"})
        c("POST", "/api/v1/items", {"type": "invoice", "account": aid, "title": "Other",
                                    "fields": {"amount": 10, "currency": "EUR"}},
          w, 422, headers={"Idempotency-Key": "k1"})
        c("POST", "/api/v1/items", {"type": "approval", "account": "Acme BV", "title": "Accounts"}, w, 201)
        c("GET", "/api/v1/items/%d" % inv["id"], token=r, status=200)
        c("GET", "/api/v1/items?limit=1", token=r, status=200)
        c("GET", "/api/v1/accounts/%d/todo" % aid, token=r, status=200)
        c("POST", "/api/v1/items/%d/resend" % inv["id"], token=w, status=200)
        c("PATCH", "/api/v1/items/%d/reminders" % inv["id"], {"enabled": True, "every_days": 2}, w, 200)
        c("POST", "/api/v1/items/%d/events" % inv["id"], {"event": "voided"}, w, 200)
        c("POST", "/api/v1/items/%d/resend" % inv["id"], token=w, status=409)
        c("POST", "/api/v1/accounts/%d/bulk/request-approvals?dry_run=true" % aid, {}, w, 200)
        c("POST", "/api/v1/accounts/%d/bulk/request-approvals" % aid, {}, w, 200)
        c("GET", "/api/v1/audit?account=%d" % aid, token=r, status=200)
        time.sleep(0.3)
        c("GET", "/api/v1/outbox", token=r, status=200)
        c("POST", "/api/v1/outbox/1/retry", token=w, status=409)
        job = c("POST", "/api/v1/jobs", {"pipeline": "Onboarding", "account": aid}, w, 201)
        c("GET", "/api/v1/jobs/%d" % job["id"], token=r, status=200)
        c("POST", "/api/v1/jobs/%d/move" % job["id"], {"stage": "review"}, w, 200)
        c("POST", "/api/v1/jobs/%d/archive" % job["id"], token=w, status=200)
        c("GET", "/metrics", token=r, status=200)
        # outbound webhook subscriptions: admin scope only
        adm = self.d.token("a", "admin")
        hook = c("POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "secret": "s3cret-hook",
                                              "events": ["item.sent", "delivery.dead"]}, adm, 201)
        c("POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "secret": "x",
                                       "events": "item.sent"}, w, 403)
        c("POST", "/api/v1/webhooks", {"url": "ftp://x", "secret": "x", "events": "item.sent"}, adm, 400)
        self.assertEqual(c("GET", "/api/v1/webhooks", token=adm, status=200)[0]["events"],
                         ["item.sent", "delivery.dead"])
        c("DELETE", "/api/v1/webhooks/%d" % hook["id"], token=adm, status=200)
        c("DELETE", "/api/v1/webhooks/%d" % hook["id"], token=adm, status=404)
        # the error answers
        c("GET", "/api/v1/items/999", token=r, status=404)
        c("POST", "/api/v1/accounts", {"name": 1}, w, 400)
        c("POST", "/api/v1/accounts", {"name": "x"}, None, 401)
        c("POST", "/api/v1/accounts", {"name": "x"}, r, 403)
        c("POST", "/api/v1/accounts", {"name": "x" * 300000}, w, 413)
        c("POST", "/api/v1/accounts", raw=b"a", token=w, status=415, headers={"Content-Type": "text/plain"})
        documented = {(m, p) for p, ops in self.spec["paths"].items() for m in ops}
        self.assertEqual(documented - self.seen, set())


if __name__ == "__main__":
    unittest.main()
