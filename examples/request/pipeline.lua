-- pipeline.lua - the request type's Lua verb in a pipeline: a year-end job
-- asks for the documents, and moves on once the client has uploaded them.
local PIPELINE = "Year-end documents"

pipeline(PIPELINE, {
  { stage = "Collect", advance = "when_done",
    on_enter = function(job)
      job:request_documents{
        title = "Year-end " .. job.title,
        template = "year-end",
        fields = { documents = "Bank statements; Payslips; Mortgage statement",
                   due_date = "2027-01-31" },
      }
    end },
  { stage = "Book" },
})

on("request.uploaded", function(item, job)
  if job and job.pipeline == PIPELINE then
    print("request " .. item.id .. " uploaded for job " .. job.id)
  end
end)
