-- Argo CD health of a pilotlight.dev PilotLight: Healthy when the operator reports Ready for the
-- current spec, Progressing while it converges (or has not seen the spec yet), Degraded when a
-- component is degraded or misconfigured. The message is the Ready condition's, which names the
-- component and says what to fix.
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the pilot-light operator to report"
  return hs
end
if obj.metadata.generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "The operator has not yet seen the latest spec"
  return hs
end
for _, condition in ipairs(status.conditions) do
  if condition.type == "Ready" then
    hs.message = condition.message
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif status.phase == "Converging" then
      hs.status = "Progressing"
    else
      hs.status = "Degraded"
    end
    return hs
  end
end
hs.status = "Progressing"
hs.message = "No Ready condition yet"
return hs
