r:SetRequestHeader("X-Ok", "1")
