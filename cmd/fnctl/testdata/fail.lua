print("about to fail")
error("boom")
