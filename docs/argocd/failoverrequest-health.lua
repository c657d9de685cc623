-- Argo CD health of a pilotlight.dev FailoverRequest: Progressing while it runs, Suspended while
-- it waits for a second person's approval, Healthy once it succeeded, Degraded when it failed, was
-- rejected or was cancelled (a cancelled request may have done some of its steps: look at them).
local hs = {}
local status = obj.status
local phase = status ~= nil and status.phase or nil
local message = status ~= nil and status.message or nil
if phase == nil or phase == "Pending" or phase == "Running" then
  hs.status = "Progressing"
  hs.message = message or "Waiting for the pilot-light operator"
  if status ~= nil and status.currentStep ~= nil then
    hs.message = "Step " .. status.currentStep .. (message ~= nil and (": " .. message) or "")
  end
elseif phase == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = message or "Waiting for a second person to set spec.approvedBy"
elseif phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message or "Succeeded"
else
  hs.status = "Degraded"
  hs.message = message or phase
end
return hs
