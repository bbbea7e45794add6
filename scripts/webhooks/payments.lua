-- payments.lua - an inbound webhook for a JSON payment provider
-- (docs/webhooks.md).  Configure the secret the provider signs with:
--
--   [hooks]
--   payments = the-shared-secret
--
-- and point the provider at https://tickler.example/hooks/payments.  It
-- sends, signed with X-Tickler-Signature: sha256=HEX over the raw body:
--
--   {"id": "pay_evt_81f2", "type": "invoice.paid",
--    "data": {"amount": "450.00", "metadata": {"tickler_item": 42}}}
--
-- Only "invoice.paid" matters; anything else is acknowledged and ignored
-- (return nil), so the provider does not retry it.  The provider's event
-- id is the delivery id: its retries of the same event change nothing.
webhook("payments", function(req)
  local body = req.json
  if type(body) ~= "table" or body.type ~= "invoice.paid" then
    return nil
  end
  local meta = type(body.data) == "table" and body.data.metadata or nil
  local item = type(meta) == "table" and meta.tickler_item or nil
  if item == nil then
    error("invoice.paid without data.metadata.tickler_item")
  end
  -- tickler records the event "paid" on that invoice (actor webhook:payments);
  -- an unknown item or an item that is no invoice is refused with 422
  return { item = item, event = "paid", id = body.id }
end)
