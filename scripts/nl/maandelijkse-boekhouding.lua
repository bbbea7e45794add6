-- Maandelijkse boekhouding met een terugkerende factuur.
--
-- Eén job per klant per maand, bijvoorbeeld op de eerste van de maand via cron:
--
--   tickler job add "Maandelijkse boekhouding" --account "Bakkerij Jansen"
--
-- Stukken       vraag de bankafschriften en bonnen van de maand op
--               (herinnering om de 3 dagen, twee keer); gaat vanzelf door
-- Verwerking    wij verwerken de maand; `tickler job move JOB Factuur`
-- Factuur       het vaste maandbedrag, wekelijks herinnerd tot betaald
-- Afgesloten    bereikt zodra de factuur betaald is; de job wordt gearchiveerd
local PIPELINE = "Maandelijkse boekhouding"
local TARIEF = { amount = "150.00", currency = "EUR" }

local MAANDEN = { "januari", "februari", "maart", "april", "mei", "juni", "juli",
                  "augustus", "september", "oktober", "november", "december" }

-- De geboekte maand: de maand vóór vandaag (de klok van tickler).
local function periode()
  local t = os.date("!*t")
  t.month = t.month - 1
  if t.month == 0 then t.month, t.year = 12, t.year - 1 end
  return MAANDEN[t.month] .. " " .. t.year
end

local function over_dagen(n)
  return os.date("!%Y-%m-%d", os.time() + n * 86400)
end

pipeline(PIPELINE, {
  { stage = "Stukken", advance = "when_done",
    on_enter = function(job)
      job:send_message{ title = "Bankafschriften en bonnen " .. periode(),
                        reminders = { every = 3, count = 2 } }
    end },
  { stage = "Verwerking" },
  { stage = "Factuur",
    on_enter = function(job)
      job:create_invoice{ title = "Boekhouding " .. periode(),
                          fields = { amount = TARIEF.amount, currency = TARIEF.currency,
                                     due_date = over_dagen(14) },
                          reminders = { every = 7, count = 3 } }
    end },
  { stage = "Afgesloten",
    on_enter = function(job) job:archive() end },
})

on("invoice.paid", function(item, job)
  if job and job.pipeline == PIPELINE and job.stage == "Factuur" then
    job:move("Afgesloten")
  end
end)
