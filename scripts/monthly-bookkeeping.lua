-- Monthly bookkeeping with a recurring invoice.
--
-- One job per client per month, started by cron on the first of the month:
--
--   tickler job add "Monthly bookkeeping" --account "Acme BV"
--
-- Documents   ask for the month's bank statements and receipts (reminders
--             every 3 days, twice); moves on by itself once answered
-- Bookkeeping staff book the month; `tickler job move JOB Invoice`
-- Invoice     the recurring monthly fee, reminded weekly until paid
-- Closed      reached when the invoice is paid; the job is archived
local PIPELINE = "Monthly bookkeeping"
local FEE = { amount = "150.00", currency = "EUR" }

-- The month being booked: the one before today (tickler's clock).
local function period()
  local t = os.date("!*t")
  t.month = t.month - 1
  if t.month == 0 then t.month, t.year = 12, t.year - 1 end
  return string.format("%04d-%02d", t.year, t.month)
end

local function in_days(n)
  return os.date("!%Y-%m-%d", os.time() + n * 86400)
end

pipeline(PIPELINE, {
  { stage = "Documents", advance = "when_done",
    on_enter = function(job)
      job:send_message{ title = "Bank statements and receipts for " .. period(),
                        reminders = { every = 3, count = 2 } }
    end },
  { stage = "Bookkeeping" },
  { stage = "Invoice",
    on_enter = function(job)
      job:create_invoice{ title = "Bookkeeping " .. period(),
                          fields = { amount = FEE.amount, currency = FEE.currency,
                                     due_date = in_days(14) },
                          reminders = { every = 7, count = 3 } }
    end },
  { stage = "Closed",
    on_enter = function(job) job:archive() end },
})

on("invoice.paid", function(item, job)
  if job and job.pipeline == PIPELINE and job.stage == "Invoice" then
    job:move("Closed")
  end
end)
