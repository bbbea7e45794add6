-- Aangifte inkomstenbelasting: van opdrachtbevestiging tot betaalde factuur.
--
--   tickler job add "Aangifte inkomstenbelasting" --account "Jan de Vries" --title "IB 2026"
--
-- Opdracht      de klant ondertekent de opdrachtbevestiging    -> Gegevens
-- Gegevens      de klant vult de vragenlijst in; gaat vanzelf door
--               zodra alles binnen is                          -> Voorbereiding
-- Voorbereiding wij stellen de aangifte op; `tickler job move JOB Controle`
-- Controle      de klant keurt de concept-aangifte goed        -> Indienen
-- Indienen      de klant tekent de machtiging                  -> Facturatie
-- Facturatie    de factuur, met wekelijkse betalingsherinneringen -> Afgerond
local PIPELINE = "Aangifte inkomstenbelasting"

local function belastingjaar()
  return tostring(tonumber(os.date("!%Y")) - 1)
end

pipeline(PIPELINE, {
  { stage = "Opdracht",
    on_enter = function(job)
      job:send_proposal{ title = "Opdrachtbevestiging " .. job.title, template = "engagement" }
    end },
  { stage = "Gegevens", advance = "when_done",
    on_enter = function(job)
      job:create_organizer{ title = "Vragenlijst inkomstenbelasting " .. belastingjaar(),
                            fields = { tax_year = belastingjaar() },
                            reminders = { every = 5, count = 3 } }
    end },
  { stage = "Voorbereiding" },
  { stage = "Controle",
    on_enter = function(job)
      job:request_approval{ title = "Concept-aangifte " .. belastingjaar(),
                            fields = { document = "aangifte-ib-" .. belastingjaar() .. "-concept.pdf" },
                            reminders = true }
    end },
  { stage = "Indienen",
    on_enter = function(job)
      job:request_signature{ title = "Machtiging indienen aangifte " .. belastingjaar(),
                             fields = { document = "machtiging-" .. belastingjaar() .. ".pdf" },
                             reminders = { every = 2, count = 3 } }
    end },
  { stage = "Facturatie",
    on_enter = function(job)
      job:create_invoice{ title = "Verzorgen aangifte inkomstenbelasting " .. belastingjaar(),
                          template = "payment-reminders",
                          fields = { amount = "450.00", currency = "EUR" } }
    end },
  { stage = "Afgerond" },
})

local function van_ons(job, stage)
  return job and job.pipeline == PIPELINE and job.stage == stage
end

on("proposal.signed", function(item, job)
  if van_ons(job, "Opdracht") then job:move("Gegevens") end
end)

on("approval.approved", function(item, job)
  if van_ons(job, "Controle") then job:move("Indienen") end
end)

on("signature.signed", function(item, job)
  if van_ons(job, "Indienen") then job:move("Facturatie") end
end)

on("invoice.paid", function(item, job)
  if van_ons(job, "Facturatie") then job:move("Afgerond") end
end)
