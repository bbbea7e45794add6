-- Individual tax return: from the engagement letter to the paid invoice.
--
--   tickler job add "Individual tax return" --account "Jan de Vries" --title "2026 income tax"
--
-- Engagement  the client signs the engagement letter (reminders every 2 days,
--             twice, from the "engagement" template)       -> Documents
-- Documents   the client fills in the organizer; we send a welcome message;
--             moves on by itself once both are done        -> Preparation
-- Preparation staff prepare the return; `tickler job move JOB Review`
-- Review      the client approves the draft return         -> Filing
-- Filing      the client signs the e-file authorisation    -> Billing
-- Billing     the invoice, with weekly payment reminders   -> Done when paid
local PIPELINE = "Individual tax return"

-- The tax year is the one before the job starts (os.time() is tickler's
-- clock, so --now previews it).
local function tax_year()
  return tostring(tonumber(os.date("!%Y")) - 1)
end

pipeline(PIPELINE, {
  { stage = "Engagement",
    on_enter = function(job)
      job:send_proposal{ title = "Engagement letter " .. job.title, template = "engagement" }
    end },
  { stage = "Documents", advance = "when_done",
    on_enter = function(job)
      job:create_organizer{ title = tax_year() .. " tax organizer",
                            fields = { tax_year = tax_year() },
                            reminders = { every = 5, count = 3 } }
      job:send_message{ title = "Welcome: what we need for your " .. tax_year() .. " return",
                        reminders = false }
    end },
  { stage = "Preparation" },
  { stage = "Review",
    on_enter = function(job)
      job:request_approval{ title = "Draft " .. tax_year() .. " income tax return",
                            fields = { document = "income-tax-return-" .. tax_year() .. "-draft.pdf" },
                            reminders = true }
    end },
  { stage = "Filing",
    on_enter = function(job)
      job:request_signature{ title = "E-file authorisation " .. tax_year(),
                             fields = { document = "e-file-authorisation-" .. tax_year() .. ".pdf" },
                             reminders = { every = 2, count = 3 } }
    end },
  { stage = "Billing",
    on_enter = function(job)
      job:create_invoice{ title = "Preparation of the " .. tax_year() .. " income tax return",
                          template = "payment-reminders",
                          fields = { amount = "450.00", currency = "EUR" } }
    end },
  { stage = "Done" },
})

-- Handlers see every item's events, so each one checks the job's pipeline.
local function ours(job, stage)
  return job and job.pipeline == PIPELINE and job.stage == stage
end

on("proposal.signed", function(item, job)
  if ours(job, "Engagement") then job:move("Documents") end
end)

on("approval.approved", function(item, job)
  if ours(job, "Review") then job:move("Filing") end
end)

on("signature.signed", function(item, job)
  if ours(job, "Filing") then job:move("Billing") end
end)

on("invoice.paid", function(item, job)
  if ours(job, "Billing") then job:move("Done") end
end)
