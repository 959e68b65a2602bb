local x = (1
