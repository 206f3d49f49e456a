-- Argo CD health check for the oblivious.dev kinds (Channel, ModelPricing, Agent, ToolServer, Lane, Tenant).
--
-- The operator reports every kind the same way: status.observedGeneration is the generation it
-- last acted on, and the Ready condition mirrors the first condition that does not hold
-- (True: working; False: a problem a person must fix, e.g. a missing Secret or a NACK from the
-- data plane; Unknown: still converging, e.g. waiting for pods to ACK a new config).
-- Install it for all kinds with one key in argocd-cm (see gitops-health.md):
--   resource.customizations.health.oblivious.dev_*: |
--     <this file>
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  return hs
end

-- Paused by the user: a suspended Channel, a disabled Lane.
if obj.spec ~= nil and (obj.spec.suspend == true or (obj.kind == "Lane" and obj.spec.enabled == false)) then
  hs.status = "Suspended"
  hs.message = obj.kind .. " is " .. ((obj.kind == "Lane") and "disabled" or "suspended")
  return hs
end

if obj.status == nil then
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
-- A status older than the spec says nothing about the spec: wait for the operator.
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready == nil then
  hs.message = "No Ready condition yet"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.message = "Ready describes generation " .. tostring(ready.observedGeneration) .. ", not " .. tostring(generation)
  return hs
end

local message = ready.message
if message == nil or message == "" then
  message = ready.reason or ""
elseif ready.reason ~= nil and ready.reason ~= "" and ready.status ~= "True" then
  message = ready.reason .. ": " .. message
end

if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
