"""The staff console (issue 18) in a real browser: Debian's chromium,
headless, driven by chromedriver through python3-selenium, against a real
`tickler run` serving HTTP on loopback and delivering to a real SMTP server
(aiosmtpd, smtpd.py).

What a member of staff does: log in, open an account, open an item, resend
it (the email arrives), switch its reminders off and on with a new
interval (the store shows it), fire a client event, retry a failed
delivery, log out (the back button then shows no data).  What an attacker
tries: XSS payloads in account, contact and title (rendered as text, no
alert), CSRF (no token, another session's token, another origin: refused,
nothing changed), guessing passwords (the rate limit engages).  Screenshots
of every page at 1280x800 and 390x844 go to the test's output folder
($TK_TEST_OUT, else console-screenshots/ in the working folder); at 390
wide no page scrolls sideways.

Skipped, with a message, only when chromium, chromedriver or selenium is
missing (CI installs them).
"""
import http.cookiejar
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from tkharness import BIN, SmtpServer, Tickler

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException,
                                            StaleElementReferenceException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover
    HAVE_SELENIUM = False

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
MISSING = [n for n, ok in (("chromium", CHROMIUM), ("chromedriver (chromium-driver)", DRIVER),
                           ("python3-selenium", HAVE_SELENIUM)) if not ok]

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
XSS_URL = "javascript:alert(1)"
PASSWORD = "correct horse battery"
OUT = os.path.join(os.environ.get("TK_TEST_OUT", os.getcwd()), "console-screenshots")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


@unittest.skipIf(MISSING, "console browser tests skipped: %s not installed "
                          "(apt-get install chromium chromium-driver python3-selenium)" % ", ".join(MISSING))
class Console(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tc = unittest.TestCase()
        cls.cleanups = []
        cls.tc.addCleanup = lambda fn, *a: cls.cleanups.append((fn, a))
        cls.smtp = SmtpServer(cls.tc, "--fail-rcpt", "gone@acme.example=550")
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        cls.t = Tickler(cls.tc, smtp=cls.smtp, extra_ini=(
            "[http]\nlisten = 127.0.0.1:%d\n\n[scheduler]\npoll_seconds = 1\n\n"
            "[delivery]\nretry_base_seconds = 1\n" % cls.port))
        cls.t.now = ""  # the real clock: the daemon's sessions and the CLI agree
        t = cls.t
        t.ok("user", "add", "staff", "--password-stdin", input=PASSWORD + "\n")
        t.ok("user", "add", "other", "--language", "nl", "--password-stdin", input=PASSWORD + "\n")
        cls.acc = t.account("Acme BV", contacts=(("ann@acme.example", "Ann Acme", True),
                                                 ("gone@acme.example", "Gone", True)))
        t.ok("account", "set", "Acme BV", "--timezone", "Europe/Amsterdam", "--manager",
             "boss@firm.example")
        cls.item = t.send("invoice", cls.acc, "Fees 2026", "--reminders", "on", "--every", "3",
                          "--count", "2")
        cls.approval = t.send("approval", cls.acc, "Annual accounts 2026", "--reminders", "on")
        cls.evil = t.account(XSS_SCRIPT + XSS_IMG, contacts=(("x@evil.example", XSS_IMG + XSS_SCRIPT, True),))
        cls.evil_item = t.send("approval", cls.evil, XSS_URL + " " + XSS_SCRIPT + XSS_IMG,
                               "--reminders", "on", "--every", "1", "--count", "3")
        env = dict(os.environ, TICKLER_CONFIG=t.config)
        env.pop("TICKLER_NOW", None)
        cls.log = open(os.path.join(t.dir, "daemon.log"), "wb")
        cls.daemon = subprocess.Popen([BIN, "run"], env=env, stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(cls.base + "/login", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or cls.daemon.poll() is not None:
                    raise RuntimeError("the daemon did not serve HTTP: %s" %
                                       open(os.path.join(t.dir, "daemon.log")).read())
                time.sleep(0.2)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
            opts.add_argument(a)
        cls.driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        cls.driver.set_page_load_timeout(30)
        os.makedirs(OUT, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            if cls.daemon.poll() is None:
                cls.daemon.terminate()
                try:
                    cls.daemon.wait(10)
                except subprocess.TimeoutExpired:
                    cls.daemon.kill()
                    cls.daemon.wait()
            cls.log.close()
            for fn, a in reversed(cls.cleanups):
                fn(*a)

    def setUp(self):
        self.started = time.time()

    def tearDown(self):
        print("  (%s: %.1f s)" % (self._testMethodName, time.time() - self.started), flush=True)

    # ---- helpers ------------------------------------------------------------

    def go(self, path):
        self.driver.get(self.base + path)
        self.no_alert()

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            self.fail("an alert fired: %r" % text)
        except NoAlertPresentException:
            pass

    def css(self, sel):
        return self.driver.find_element(By.CSS_SELECTOR, sel)

    def reminders_become(self, enabled, every, count):
        """Wait until the item's reminders read ENABLED, EVERY and COUNT
        (None: any): click() returns before the form's POST has landed,
        so a read right after it may see the state before (it did, on a
        quiet machine with Chromium 156.0.8078.114)."""
        def now():
            rem = self.show(self.item)["reminders"]
            return (rem["enabled"], rem["every_days"] if every is not None else None,
                    rem["count"] if count is not None else None)
        want = (enabled, every, count)
        self.wait_for(lambda: now() == want, "reminders %r" % (want,))
        self.assertEqual(now(), want)

    def after_click(self, sel, text, timeout=20):
        """Wait for an element SEL holding TEXT on the page a click led to:
        a form's POST and its redirect may still be on their way when
        click() returns (and the page before may hold another SEL)."""
        def found():
            try:
                return [e for e in self.driver.find_elements(By.CSS_SELECTOR, sel)
                        if text in e.text]
            except Exception:  # the page changed under the lookup: look again
                return []
        self.wait_for(found, "%r in %s after the click" % (text, sel), timeout)

    def click(self, el, timeout=20):
        """Click EL and wait until the page it leads to has replaced the
        current one: Chromium 156.0.8078.114 returns from click() before
        the form's POST has landed, so a read of the store right after it
        may see the state before (test_10 and test_15 did, on PostgreSQL).
        Every click in these tests leaves the page (a link or a form)."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        el.click()
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                old.is_enabled()
            except StaleElementReferenceException:
                return
            except WebDriverException as e:
                # A node caught between the two documents: Chromium answers
                # "does not belong to the document" instead of "stale".
                if "does not belong to the document" in str(e):
                    return
                raise
            time.sleep(0.05)
        self.fail("the page did not change after the click")

    def login(self, user="staff", password=PASSWORD):
        self.driver.delete_all_cookies()
        self.go("/login")
        self.css("input[name=username]").send_keys(user)
        self.css("input[name=password]").send_keys(password)
        self.click(self.css("[data-action=login]"))
        self.no_alert()

    def show(self, item):
        return self.t.json("show", item)

    def wait_for(self, fn, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def session_opener(self, cookie=None):
        jar = http.cookiejar.CookieJar()
        op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        if cookie:
            op.addheaders = [("Cookie", "tk_session=" + cookie)]
        return op

    def post(self, path, fields, cookie=None, origin="self"):
        data = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(self.base + path, data=data, method="POST")
        if origin == "self":
            req.add_header("Origin", self.base)
        elif origin:
            req.add_header("Origin", origin)
        if cookie:
            req.add_header("Cookie", "tk_session=" + cookie)
        try:
            with self.session_opener().open(req, timeout=20) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def api_login(self, user="staff", password=PASSWORD):
        status, headers, _ = self.post("/login", {"username": user, "password": password})
        self.assertEqual(status, 303)
        cookie = headers["Set-Cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        return cookie.split(";")[0].split("=", 1)[1]

    def csrf_of(self, cookie, path="/"):
        req = urllib.request.Request(self.base + path, headers={"Cookie": "tk_session=" + cookie})
        page = urllib.request.urlopen(req, timeout=20).read().decode()
        i = page.index('name="csrf" value="') + len('name="csrf" value="')
        return page[i:i + 64]

    def db(self, sql):
        return self.t.rows(sql)  # SQLite or PostgreSQL (CI's PostgreSQL stage)

    # ---- staff at work ------------------------------------------------------

    def test_10_staff_workflow(self):
        self.login()
        self.assertIn("/", self.driver.current_url)
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, "svg"), "dashboard has no chart")
        cookie = self.driver.get_cookie("tk_session")
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie.get("sameSite"), "Strict")

        # open the account from the accounts page
        self.go("/accounts")
        self.click(self.driver.find_element(By.LINK_TEXT, "Acme BV"))
        self.no_alert()
        self.assertIn("/accounts/%s" % self.acc, self.driver.current_url)
        self.assertIn("ann@acme.example", self.driver.page_source)
        rows = self.driver.find_elements(By.CSS_SELECTOR, "tr[data-item-id]")
        self.assertEqual({r.get_attribute("data-item-id") for r in rows},
                         {str(self.item), str(self.approval)})

        # open the item and resend it: one more email at the SMTP server
        self.click(self.css("tr[data-item-id='%s'] a" % self.item))
        before = len([m for r, m in self.smtp.messages() if "ann@acme.example" in r])
        resends = self.show(self.item)["resends"]
        self.click(self.css("[data-action=resend]"))
        self.no_alert()
        self.after_click(".notice", "resent")
        self.assertEqual(self.show(self.item)["resends"], resends + 1)
        self.wait_for(lambda: len([m for r, m in self.smtp.messages() if "ann@acme.example" in r]) > before,
                      "the resent email at the SMTP server")
        resent = [a for a in self.t.json("audit", self.item) if a["action"] == "resent"]
        self.assertEqual(resent[-1]["actor"], "staff:staff")

        # reminders off, then on with a new interval and count
        self.click(self.css("[data-action=reminders-off]"))
        self.no_alert()
        self.reminders_become(False, None, None)
        every = self.css("input[name=every_days]")
        every.clear()
        every.send_keys("5")
        count = self.css("input[name=count]")
        count.clear()
        count.send_keys("4")
        self.click(self.css("[data-action=reminders-on]"))
        self.no_alert()
        self.reminders_become(True, 5, 4)
        # save keeps on/off and changes the numbers
        every = self.css("input[name=every_days]")
        every.clear()
        every.send_keys("6")
        self.click(self.css("[data-action=save-reminders]"))
        self.reminders_become(True, 6, 4)
        # a refused value shows the CLI's line and changes nothing
        self.driver.execute_script("document.querySelector('input[name=every_days]').removeAttribute('min')")
        every = self.css("input[name=every_days]")
        every.clear()
        every.send_keys("0")
        self.click(self.css("[data-action=save-reminders]"))
        self.after_click(".error", "every_days: a whole number from 1 to 365")
        self.assertEqual(self.show(self.item)["reminders"]["every_days"], 6)

        # a client event from the buttons the plugin offers
        self.go("/items/%s" % self.approval)
        self.click(self.css("[data-action=event][value=approved]"))
        self.no_alert()
        shown = self.show(self.approval)
        self.assertEqual(shown["state"], "approved")
        self.assertEqual(self.t.json("audit", self.approval)[-1]["actor"], "staff:staff")

        # retry the delivery that failed for good (550 for gone@)
        self.wait_for(lambda: self.t.json("outbox", "--failed"), "a failed delivery")
        failed = self.t.json("outbox", "--failed")[0]
        self.go("/outbox")
        self.click(self.css("tr[data-outbox-id='%d'] [data-action=retry]" % failed["id"]))
        self.no_alert()
        self.after_click(".notice", "queued again")
        retries = [a for a in self.t.json("audit") if a["action"] == "delivery-retry"]
        self.assertEqual(retries[-1]["actor"], "staff:staff")
        # the daemon tries it again: the SMTP server refuses it again
        self.wait_for(lambda: [r for r in self.t.json("outbox", "--failed") if r["id"] == failed["id"]],
                      "the retried delivery to fail again")

        # an email opens as it was sent
        self.go("/outbox/%d" % failed["id"])
        self.assertIn("Subject:", self.driver.find_element(By.TAG_NAME, "body").text)

        # log out; the back button shows no data
        self.go("/items/%s" % self.item)
        self.assertIn("Fees 2026", self.driver.page_source)
        self.click(self.css("[data-action=logout]"))
        self.no_alert()
        self.assertIn("/login", self.driver.current_url)
        self.driver.back()
        time.sleep(0.5)
        self.assertNotIn("Fees 2026", self.driver.page_source)
        self.assertIn("/login", self.driver.current_url)
        self.assertEqual(self.db("SELECT COUNT(*) FROM audit WHERE action = 'logout' AND actor = 'staff:staff'"),
                         [(1,)])

    def test_15_bulk_shows_what_goes_out_before_it_is_sent(self):
        """A bulk request is two steps: the preview (built by the engine,
        nothing written, hostile titles as text), then Confirm sends it."""
        def bulk_mails():
            return [m for r, m in self.smtp.messages()
                    if "x@evil.example" in r and m["X-Tickler-Kind"] == "request-approvals"]
        def bulk_rows():
            return self.db("SELECT COUNT(*) FROM outbox WHERE kind = 'request-approvals'")
        audit_sql = ("SELECT actor FROM audit WHERE action = 'resent' AND "
                     "detail LIKE 'request-approvals:%'")
        rows = bulk_rows()
        self.login()
        self.go("/accounts/%s" % self.evil)
        self.css("form.bulk textarea[name=message]").send_keys("Please\n" + XSS_IMG)
        self.click(self.css("[data-action=bulk]"))
        self.no_alert()
        self.after_click(".bulk-preview .bulk-items", XSS_SCRIPT)
        self.assertIn(XSS_SCRIPT + XSS_IMG, self.css(".bulk-preview .bulk-items").text)
        self.assertEqual(self.css(".bulk-preview .bulk-to").text, "x@evil.example")
        self.assertIn("Please\n" + XSS_IMG, self.css(".bulk-preview .bulk-text").text)
        self.assertTrue(self.css(".bulk-preview .bulk-subject").text)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "img"), [])
        # nothing written, nothing sent before the confirm
        self.assertEqual(bulk_rows(), rows)
        self.assertEqual(self.db(audit_sql), [])
        self.assertEqual(bulk_mails(), [])
        # a confirm without the CSRF token is refused and sends nothing
        mine = self.api_login()
        status, _, body = self.post("/accounts/%s/bulk/confirm" % self.evil,
                                    {"command": "request-approvals"}, cookie=mine)
        self.assertEqual(status, 403)
        self.assertIn("refused", body)
        self.assertEqual(bulk_rows(), rows)
        # Confirm sends exactly that
        self.click(self.css("[data-action=bulk-confirm]"))
        self.no_alert()
        self.after_click(".notice", "request-approvals")
        self.assertIn("/accounts/%s" % self.evil, self.driver.current_url)
        got = self.wait_for(bulk_mails, "the bulk email at the SMTP server")
        self.assertEqual(len(got), 1)
        # the message as typed (the textarea's CR LF went through the confirm page as LF)
        text = got[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
        self.assertIn("Please\n" + XSS_IMG, text)
        self.assertNotIn("\ufffd", text)
        self.assertEqual(self.db(audit_sql), [("staff:staff",)])
        self.no_alert()

    def test_20_hostile_text_renders_as_text(self):
        self.login()
        for path in ("/", "/accounts", "/accounts/%s" % self.evil, "/items/%s" % self.evil_item,
                     "/upcoming", "/outbox", "/accounts?q=" + urllib.parse.quote(XSS_SCRIPT)):
            self.go(path)
            body = self.driver.find_element(By.TAG_NAME, "body").text
            if "/accounts/" in path or "/items/" in path:
                self.assertIn(XSS_SCRIPT, body, path)
                self.assertIn(XSS_IMG, body, path)
            if "/items/" in path:
                self.assertIn(XSS_URL, body, path)
                # the next reminder as it will go out (issue 14's preview), as text
                text = self.css(".next-mail .next-text").text
                self.assertIn(XSS_SCRIPT, text, path)
                self.assertIn("x@evil.example", self.css(".next-mail .next-to").text)
            if path == "/upcoming":
                self.assertTrue(self.driver.find_elements(
                    By.CSS_SELECTOR, "tr[data-item-id='%s']" % self.evil_item), path)
            # no element made from data: no img, no inline script, no javascript: link
            self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "img"), [], path)
            for s in self.driver.find_elements(By.TAG_NAME, "script"):
                self.assertEqual(s.get_attribute("src"), self.base + "/static/console.js", path)
            for a in self.driver.find_elements(By.TAG_NAME, "a"):
                self.assertFalse((a.get_attribute("href") or "").lower().startswith("javascript:"), path)
            self.no_alert()

    def test_30_csrf_refusals_change_nothing(self):
        mine = self.api_login()
        theirs = self.api_login("other")
        token = self.csrf_of(mine, "/items/%s" % self.item)
        their_token = self.csrf_of(theirs)
        self.assertNotEqual(token, their_token)
        resends = self.show(self.item)["resends"]
        path = "/items/%s/resend" % self.item
        for fields, origin, why in (({}, "self", "no token"),
                                    ({"csrf": their_token}, "self", "another session's token"),
                                    ({"csrf": token}, "http://evil.example", "another origin"),
                                    ({"csrf": token}, None, "no origin at all")):
            status, _, body = self.post(path, fields, cookie=mine, origin=origin)
            self.assertEqual(status, 403, why)
            self.assertIn("refused", body, why)
        # without a session at all
        status, _, _ = self.post(path, {"csrf": token})
        self.assertEqual(status, 403)
        self.assertEqual(self.show(self.item)["resends"], resends)
        # the right token from the right origin works (the refusals were not luck)
        status, headers, _ = self.post(path, {"csrf": token}, cookie=mine)
        self.assertEqual(status, 303)
        self.assertEqual(self.show(self.item)["resends"], resends + 1)

        # a page on another origin that posts a form to the console in the browser
        self.login()
        resends += 1
        evil_port = free_port()
        page = ("<html><body><form id=f method=post action='%s%s'>"
                "<input name=csrf value='%s'></form>"
                "<script>document.getElementById('f').submit()</script></body></html>"
                % (self.base, path, token)).encode()

        class Evil(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        # threads: chromium opens spare connections that would block a
        # one-at-a-time server until they time out
        srv = http.server.ThreadingHTTPServer(("127.0.0.2", evil_port), Evil)
        srv.daemon_threads = True
        th = threading.Thread(target=srv.serve_forever, daemon=True)
        th.start()
        try:
            self.driver.get("http://127.0.0.2:%d/" % evil_port)
            self.wait_for(lambda: "refused" in self.driver.page_source, "the refusal page", 15)
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(self.show(self.item)["resends"], resends)

    def test_40_screenshots_and_narrow_screens(self):
        self.login()
        pages = {"dashboard": "/", "accounts": "/accounts", "account": "/accounts/%s" % self.acc,
                 "item": "/items/%s" % self.item, "upcoming": "/upcoming", "outbox": "/outbox",
                 "evil-item": "/items/%s" % self.evil_item}
        try:
            for w, h in ((1280, 800), (390, 844)):
                self.driver.set_window_size(w, h)
                # the viewport, not the window, must be W wide
                inner = self.driver.execute_script("return window.innerWidth")
                if inner != w:
                    self.driver.set_window_size(w + (w - inner), h)
                for name, path in pages.items():
                    self.go(path)
                    self.driver.save_screenshot(os.path.join(OUT, "%s-%dx%d.png" % (name, w, h)))
                    if w == 390:
                        sw = self.driver.execute_script("return document.documentElement.scrollWidth")
                        self.assertLessEqual(sw, 390, "%s scrolls sideways at 390 wide (%d)" % (name, sw))
                self.driver.delete_all_cookies()
                self.go("/login")
                self.driver.save_screenshot(os.path.join(OUT, "login-%dx%d.png" % (w, h)))
                if w == 390:
                    self.assertLessEqual(self.driver.execute_script(
                        "return document.documentElement.scrollWidth"), 390)
                self.login()
        finally:
            self.driver.set_window_size(1280, 800)
        for name in list(pages) + ["login"]:
            for size in ("1280x800", "390x844"):
                self.assertTrue(os.path.getsize(os.path.join(OUT, "%s-%s.png" % (name, size))) > 1000)

    def test_50_dutch_for_a_dutch_user(self):
        self.login("other")
        self.assertIn("Uitloggen", self.css("[data-action=logout]").text)
        # the account's calendar settings and its suppressed contact (test_10's
        # 550 at RCPT suppressed gone@), in Dutch
        self.go("/accounts/%s" % self.acc)
        self.assertIn("Europe/Amsterdam", self.css("tr[data-setting='cal.timezone']").text)
        self.assertIn("Tijdzone", self.css("tr[data-setting='cal.timezone']").text)
        self.assertIn("(standaard)", self.css("tr[data-setting='cal.window']").text)
        self.assertIn("boss@firm.example", self.css("tr[data-setting='cal.manager']").text)
        self.assertIn("Geblokkeerd", self.css("table.contacts thead").text)
        rows = {r.find_element(By.TAG_NAME, "td").text: r.find_element(
            By.CSS_SELECTOR, "td[data-suppressed]") for r in
            self.driver.find_elements(By.CSS_SELECTOR, "tr[data-contact-id]")}
        self.assertEqual(rows["ann@acme.example"].get_attribute("data-suppressed"), "no")
        self.assertEqual(rows["gone@acme.example"].get_attribute("data-suppressed"), "yes")
        self.assertIn("550", rows["gone@acme.example"].text)
        self.assertIn("sinds", rows["gone@acme.example"].text)
        self.go("/items/%s" % self.item)
        self.assertIn("Opnieuw versturen", self.css("[data-action=resend]").text)

    def test_90_wrong_passwords_engage_the_rate_limit(self):
        # the stored hash is not the password
        rows = self.db("SELECT pw_hash FROM users WHERE name = 'staff'")
        self.assertTrue(rows[0][0].startswith("$argon2id$"))
        self.assertNotIn(PASSWORD, rows[0][0])
        for i in range(5):
            status, _, body = self.post("/login", {"username": "staff", "password": "wrong %d" % i})
            self.assertEqual(status, 401)
            self.assertIn("wrong user name or password", body)
        status, headers, body = self.post("/login", {"username": "staff", "password": PASSWORD})
        self.assertEqual(status, 429)
        self.assertIn("too many failed logins", body)
        self.assertTrue(int(headers["Retry-After"]) > 0)
        self.assertNotIn("Set-Cookie", headers)
        # a login form from another origin is refused before any password check
        status, _, _ = self.post("/login", {"username": "other", "password": PASSWORD},
                                 origin="http://evil.example")
        self.assertEqual(status, 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
