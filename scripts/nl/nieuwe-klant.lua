-- Een nieuwe klant: opdrachtbevestiging, getekende machtiging en
-- intakevragenlijst.  Elke fase gaat vanzelf door zodra alles gedaan is.
--
--   tickler job add "Nieuwe klant" --account "Bakkerij Jansen"
local PIPELINE = "Nieuwe klant"

pipeline(PIPELINE, {
  { stage = "Opdrachtbevestiging", advance = "when_done",
    on_enter = function(job)
      job:send_proposal{ title = "Opdrachtbevestiging " .. job.account_name,
                         template = "engagement" }    -- herinneringen uit de template
    end },
  { stage = "Machtiging", advance = "when_done",
    on_enter = function(job)
      job:request_signature{ title = "Machtiging om namens u op te treden",
                             fields = { document = "machtiging.pdf" },
                             reminders = { every = 3, count = 2 } }
    end },
  { stage = "Intake", advance = "when_done",
    on_enter = function(job)
      job:create_organizer{ title = "Intakevragenlijst nieuwe klant",
                            reminders = true }         -- standaard uit [reminders]
    end },
  { stage = "Actief" },
})
