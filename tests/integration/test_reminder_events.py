"""Issue 14: the scheduler's Lua events on("reminder.sent", fn(item, job,
step)) and on("reminders.exhausted", fn(item, job)), through the real
binary with --now: the handlers move the item's job so that the calls are
visible, a failing handler is logged with SCRIPT:LINE and does not undo
the reminder (its own writes are undone), and bad names are refused at
load with the script's line."""
import os
import tempfile
import unittest

from tkharness import Tickler, at

SCRIPT = """
pipeline("Chase", {
  { stage = "Start",
    on_enter = function(job)
      job:create_organizer{ title = "Questions", reminders = { every = 2, count = 3 } }
    end },
  { stage = "step1" }, { stage = "step2" }, { stage = "step3" }, { stage = "Exhausted" },
})

on("reminder.sent", function(item, job, step)
  if job and item.type == "organizer" then job:move("step" .. step) end
end)

on("reminders.exhausted", function(item, job)
  if job then job:move("Exhausted") end
end)
"""

FAILING = """
on("reminder.sent", function(item, job, step)
  job:move("step" .. step)
  error("boom at step " .. step)
end)
"""


class ReminderEvents(unittest.TestCase):
    def deploy(self, **scripts):
        d = tempfile.mkdtemp(prefix="tk-lua-")
        self.addCleanup(lambda: [os.unlink(os.path.join(d, f)) for f in os.listdir(d)] and os.rmdir(d))
        for name, text in scripts.items():
            with open(os.path.join(d, name + ".lua"), "w") as f:
                f.write(text)
        self.t = Tickler(self, extra_ini="[lua]\nscripts = %s\n" % d)
        self.dir = d
        return self.t

    def start(self):
        t = self.t
        acc = t.account("Nova BV")
        job = t.ok("job", "add", "Chase", "--account", acc, now=at(0)).strip()
        return job, t.json("job", "show", job)["items"][0]

    def test_sent_with_step_then_exhausted(self):
        t = self.deploy(chase=SCRIPT)
        job, item = self.start()
        stages = []
        for d in (2, 4, 6):
            t.ok("tick", now=at(d))
            stages.append(t.json("job", "show", job)["stage"])
        # the last step's reminder.sent ran, then reminders.exhausted
        self.assertEqual(stages, ["step1", "step2", "Exhausted"])
        self.assertEqual(t.show(item)["reminders"]["sent"], 3)
        kinds = [m["X-Tickler-Kind"] for m in t.messages()]
        self.assertEqual(kinds.count("reminder"), 3)

    def test_failing_handler_keeps_the_reminder_and_undoes_its_writes(self):
        t = self.deploy(chase=SCRIPT.split("\non(\"")[0], fail=FAILING)
        job, item = self.start()
        r = t.run("tick", now=at(2))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("on(reminder.sent) failed, the reminder stays sent", r.err)
        self.assertRegex(r.err, r"fail\.lua:4: in function 'on\(reminder\.sent\)': boom at step 1")
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)
        self.assertEqual(t.json("job", "show", job)["stage"], "Start", "the handler's move undone")
        self.assertEqual([m["X-Tickler-Kind"] for m in t.messages()].count("reminder"), 1)
        # the next step goes out as planned
        t.ok("tick", now=at(4))
        self.assertEqual(t.show(item)["reminders"]["sent"], 2)

    def test_a_broken_script_never_stops_reminders(self):
        t = self.deploy()
        acc = t.account("Nova BV")
        item = t.send("organizer", acc, "Q", "--every", "2", "--count", "1", now=at(0))
        with open(os.path.join(self.dir, "broken.lua"), "w") as f:
            f.write('on("reminder.sent", function(item, job, step)\n')
        r = t.run("tick", now=at(2))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("refused: a pipeline script failed to load", r.err)
        self.assertEqual(t.show(item)["reminders"]["sent"], 1)

    def test_unknown_scheduler_event_refused_with_line(self):
        t = self.deploy(bad='\n\non("reminder.bounced", function() end)\n')
        r = t.run("check", now="")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("bad.lua:3:", r.out)
        self.assertIn("on('reminder.bounced'): unknown item type 'reminder'", r.out)


if __name__ == "__main__":
    unittest.main()
