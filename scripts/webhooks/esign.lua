-- esign.lua - an inbound webhook for a form-encoded e-signature service
-- (docs/webhooks.md).  Such services often sign the raw body with their
-- own header and a bare hex digest, so the declaration names both:
--
--   [hooks]
--   esign = the-shared-secret
--
-- POST /hooks/esign with Content-Type: application/x-www-form-urlencoded,
-- X-Esign-Signature: HEX (HMAC-SHA256 of the raw body, no prefix):
--
--   event_id=ev-7731&status=completed&tickler_item=43
--
-- A completed envelope records "signed" on the item (a signature request
-- or a proposal) through event(); other statuses are ignored.
webhook("esign", { header = "X-Esign-Signature", prefix = "" }, function(req)
  local f = req.form
  if not f or f.status ~= "completed" then
    return nil
  end
  local item = tonumber(f.tickler_item)
  if not item then
    error("completed envelope without tickler_item")
  end
  event(item, "signed")
  return { id = f.event_id }
end)
