print("delivered with status " .. (r.Metadata.status or "?"))
