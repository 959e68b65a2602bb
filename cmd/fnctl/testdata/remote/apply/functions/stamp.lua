r:SetRequestHeader("X-Stamped", cfg:GetValue("STAMP") or "none")
