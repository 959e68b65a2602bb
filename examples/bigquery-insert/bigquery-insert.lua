-- bigquery-insert: records every succeeded Stripe payment as a row of a
-- BigQuery table, once. On a "payment_intent.succeeded" event it inserts
--
--   id        STRING     the payment intent's id (pi_...)
--   amount    INTEGER    in the currency's smallest unit (4200 = 42.00 EUR)
--   currency  STRING     lowercase ISO code (eur)
--   customer  STRING     the customer's id (cus_...), NULL for guest payments
--   created   TIMESTAMP  when the payment intent was made, UTC
--
-- into BQ_TABLE of BQ_DATASET in BQ_PROJECT. Stripe delivers an event more
-- than once now and then (and retries until it gets a 2xx), so the function
-- first asks bigquery.record_exists whether the id is already there and
-- inserts only when it is not. Other event types are left alone. The event
-- is forwarded unchanged either way; a BigQuery failure is an error, so the
-- delivery is recorded as failed and can be replayed.
--
-- Verify the signature first: attach stripe-signature to the input and this
-- function to an output, or copy its check in here.
--
-- Config variables: BQ_PROJECT, BQ_DATASET (required), BQ_TABLE (default
-- "payments"), BQ_CREDENTIALS (required: the JSON key of a service account
-- with the BigQuery Data Editor role on the dataset and Job User on the
-- project, which the record_exists query needs).

local json = require("json")
local time = require("time")
local bigquery = require("bigquery")

local function required_config(key)
  local value = cfg:GetValue(key)
  if value == "" then
    error(key .. " is not set")
  end
  return value
end

local project = required_config("BQ_PROJECT")
local dataset = required_config("BQ_DATASET")
local credentials = required_config("BQ_CREDENTIALS")
local tbl = cfg:GetValue("BQ_TABLE")
if tbl == "" then
  tbl = "payments"
end

local event, err = json.decode(r.RequestBody)
if err then
  error("invalid JSON body: " .. err)
end
if type(event) ~= "table" or type(event.type) ~= "string" then
  error("not a Stripe event: no type")
end
if event.type ~= "payment_intent.succeeded" then
  log.info("ignoring Stripe event " .. event.type)
  return
end

local intent = event.data and event.data.object
if type(intent) ~= "table" or type(intent.id) ~= "string" or intent.id == "" then
  error("payment_intent.succeeded without data.object.id")
end
if type(intent.amount) ~= "number" or type(intent.currency) ~= "string" or type(intent.created) ~= "number" then
  error("payment intent " .. intent.id .. " lacks amount, currency or created")
end

err = bigquery.initialize(project, dataset, credentials)
if err then
  error(err)
end

local exists, exists_err = bigquery.record_exists(tbl, "id", intent.id)
if exists_err then
  error(exists_err)
end
if exists then
  log.info("payment " .. intent.id .. " is already recorded")
  return
end

local created, time_err = time.format(intent.created, "2006-01-02T15:04:05Z")
if time_err then
  error("invalid created time: " .. time_err)
end

err = bigquery.insert(tbl, {
  id = intent.id,
  amount = intent.amount,
  currency = intent.currency,
  customer = intent.customer, -- nil (NULL) for a payment without a customer
  created = created,
})
if err then
  error(err)
end
log.info(string.format("recorded payment %s: %d %s", intent.id, intent.amount, intent.currency))
