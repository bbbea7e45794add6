-- Onboarding a new client: engagement letter, signed authorisation, intake
-- organizer.  Every stage moves on by itself once its items are done.
--
--   tickler job add "Client onboarding" --account "Acme BV"
--
-- Engagement letter  the client signs the engagement proposal
-- Authorisation      the client e-signs the authorisation to act for them
-- Intake             the client fills in the new-client organizer
-- Active             onboarding done
local PIPELINE = "Client onboarding"

pipeline(PIPELINE, {
  { stage = "Engagement letter", advance = "when_done",
    on_enter = function(job)
      job:send_proposal{ title = "Engagement letter for " .. job.account_name,
                         template = "engagement" }   -- reminders from the template
    end },
  { stage = "Authorisation", advance = "when_done",
    on_enter = function(job)
      job:request_signature{ title = "Authorisation to act on your behalf",
                             fields = { document = "authorisation.pdf" },
                             reminders = { every = 3, count = 2 } }
    end },
  { stage = "Intake", advance = "when_done",
    on_enter = function(job)
      job:create_organizer{ title = "New client questionnaire",
                            reminders = true }        -- [reminders] defaults
    end },
  { stage = "Active" },
})
