-- syntax_error.lua does not compile.
local x = 1
if x then
  print("x")
